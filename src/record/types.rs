//! The JSON types a schema allows, and the type of a value (parsed, or as JSON text).

use serde_json::Value;

/// The JSON types a schema allows (its `type`; all of them when it names none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Types(u8);

impl Types {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const INTEGER: u8 = 4;
    pub const NUMBER: u8 = 8;
    pub const STRING: u8 = 16;
    pub const OBJECT: u8 = 32;
    pub const ARRAY: u8 = 64;
    pub const ANY: Types = Types(127);

    pub fn from_schema(schema: &Value) -> Types {
        let bit = |name: &str| match name {
            "null" => Types::NULL,
            "boolean" => Types::BOOLEAN,
            "integer" => Types::INTEGER,
            "number" => Types::NUMBER | Types::INTEGER,
            "string" => Types::STRING,
            "object" => Types::OBJECT,
            "array" => Types::ARRAY,
            _ => 0,
        };
        match schema.get("type") {
            Some(Value::String(t)) => Types(bit(t)),
            Some(Value::Array(list)) => Types(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(bit)
                    .fold(0, |a, b| a | b),
            ),
            _ => Types::ANY,
        }
    }

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// The type bit of a value.
    pub fn of(v: &Value) -> u8 {
        match v {
            Value::Null => Types::NULL,
            Value::Bool(_) => Types::BOOLEAN,
            Value::Number(n) if n.is_i64() || n.is_u64() => Types::INTEGER,
            Value::Number(_) => Types::NUMBER,
            Value::String(_) => Types::STRING,
            Value::Array(_) => Types::ARRAY,
            Value::Object(_) => Types::OBJECT,
        }
    }

    /// The type bit of a value written as JSON text, from its first character.
    pub fn of_text(text: &str) -> u8 {
        match text.as_bytes().first() {
            Some(b'"') => Types::STRING,
            Some(b'{') => Types::OBJECT,
            Some(b'[') => Types::ARRAY,
            Some(b't' | b'f') => Types::BOOLEAN,
            Some(b'n') => Types::NULL,
            // What serde_json reads as a float: a fraction or exponent, `-0`, or an integer
            // past 64 bits.
            _ if text.contains(['.', 'e', 'E']) || text == "-0" => Types::NUMBER,
            _ if text.parse::<i64>().is_err() && text.parse::<u64>().is_err() => Types::NUMBER,
            _ => Types::INTEGER,
        }
    }

    pub fn allows_bit(self, bit: u8) -> bool {
        self.has(bit)
    }

    pub fn allows(self, v: &Value) -> bool {
        self.has(Types::of(v))
    }

    /// The schema's types in words (`string or null`).
    pub fn describe(self) -> &'static str {
        const NAMES: [(u8, &str); 7] = [
            (Types::STRING, "string"),
            (Types::INTEGER, "integer"),
            (Types::NUMBER, "number"),
            (Types::BOOLEAN, "boolean"),
            (Types::OBJECT, "object"),
            (Types::ARRAY, "array"),
            (Types::NULL, "null"),
        ];
        let first = NAMES
            .iter()
            .find(|(b, _)| self.has(*b) && *b != Types::NULL);
        first.map_or("null", |(_, n)| n)
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

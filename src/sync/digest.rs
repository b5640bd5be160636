//! Record keys as 128-bit digests, for the sets that remember which records a window holds and
//! has written.

use crate::record::Members;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A record's key as a 128-bit digest: the sets stay small (16 bytes a record) however long the
/// keys are. Two independent 64-bit SipHash values make an accidental collision within one
/// window (at most 10,000 keys) about 1 in 10^30.
pub type Key = u128;

/// A set of keys, hashed by their own low bits (they are digests already).
pub type KeySet = HashSet<Key, Digests>;
/// A map from keys, hashed the same way.
pub type KeyMap<V> = HashMap<Key, V, Digests>;

pub type Digests = BuildHasherDefault<DigestHasher>;

#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used for keys; this keeps any other input well spread.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The digest of a record's `fields` (each as [`Members::key_part`] reads it).
pub fn record_key(record: &Members, fields: &[&str]) -> Key {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0xA5u8.hash(&mut b);
    for k in fields {
        let part = record.key_part(k);
        part.hash(&mut a);
        part.hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// A digest of a record key that fits a `u64` (for sums over sets of records).
pub fn fold(key: Key) -> u64 {
    (key as u64) ^ ((key >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn keys_differ_by_any_part() {
        let keys = &["MessageID", "Recipient"];
        let k = |v: Value| {
            let text = v.to_string();
            record_key(&Members::parse(&text).unwrap(), keys)
        };
        let base = k(json!({"ServerID": 1, "MessageID": "m", "Recipient": "r"}));
        assert_eq!(base, k(json!({"MessageID": "m", "Recipient": "r"})));
        assert_ne!(base, k(json!({"MessageID": "m", "Recipient": "x"})));
        // Parts are hashed with their lengths, so "ab"+"c" is not "a"+"bc".
        assert_ne!(
            k(json!({"MessageID": "ab", "Recipient": "c"})),
            k(json!({"MessageID": "a", "Recipient": "bc"}))
        );
    }
}

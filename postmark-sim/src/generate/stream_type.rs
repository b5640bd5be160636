//! A message stream's type (transactional, broadcasts, inbound) and its API spelling: a leaf
//! that the account model, the per-message derivations and the handlers all share.

/// A message stream's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamType {
    Transactional,
    Broadcasts,
    Inbound,
}

impl StreamType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Transactional => "Transactional",
            StreamType::Broadcasts => "Broadcasts",
            StreamType::Inbound => "Inbound",
        }
    }
}

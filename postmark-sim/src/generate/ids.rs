//! Deterministic identifiers: keyed hashes, per-record RNG seeds, UUID-shaped tokens and the
//! reversible message IDs.
//!
//! A message ID is a version-4-shaped UUID whose low 62 bits are a keyed Feistel permutation of
//! (kind, server index, stream index, message index) and whose high 64 bits are a keyed hash of
//! the low half. Decoding therefore needs no map, and a forged or foreign ID fails the hash check.

/// SplitMix64 finaliser: a good 64-bit mixer.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hash of a seed and a list of parts (order matters).
pub fn hash(seed: u64, parts: &[u64]) -> u64 {
    let mut h = mix64(seed ^ 0x5151_7A7A_0F0F_3C3C);
    for &p in parts {
        h = mix64(h ^ p);
    }
    h
}

/// A PRNG for one record, derived from the data seed and the record's coordinates.
pub fn rng(seed: u64, parts: &[u64]) -> fastrand::Rng {
    fastrand::Rng::with_seed(hash(seed, parts))
}

/// Formats 128 bits as a lowercase UUID string.
pub fn uuid_string(hi: u64, lo: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A random-looking but deterministic version-4 UUID.
pub fn uuid(seed: u64, parts: &[u64]) -> String {
    let hi = hash(seed, parts);
    let lo = mix64(hi ^ 0xA5A5);
    uuid_string(
        (hi & !0xF000) | 0x4000,
        (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000,
    )
}

/// Message kinds encoded in a message ID.
pub const KIND_OUTBOUND: u64 = 1;
/// Inbound messages.
pub const KIND_INBOUND: u64 = 2;

/// The coordinates a message ID encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageKey {
    pub kind: u64,
    pub server: usize,
    pub stream: usize,
    pub index: usize,
}

const HALF: u32 = 31;
const HALF_MASK: u64 = (1 << HALF) - 1;
const ROUNDS: u64 = 4;

fn round_fn(seed: u64, round: u64, x: u64) -> u64 {
    hash(seed, &[0x0FE1_57E1, round, x]) & HALF_MASK
}

fn feistel(seed: u64, v: u64) -> u64 {
    let (mut l, mut r) = (v >> HALF & HALF_MASK, v & HALF_MASK);
    for round in 0..ROUNDS {
        let next = l ^ round_fn(seed, round, r);
        l = r;
        r = next;
    }
    (l << HALF) | r
}

fn feistel_inverse(seed: u64, v: u64) -> u64 {
    let (mut l, mut r) = (v >> HALF & HALF_MASK, v & HALF_MASK);
    for round in (0..ROUNDS).rev() {
        let prev = r ^ round_fn(seed, round, l);
        r = l;
        l = prev;
    }
    (l << HALF) | r
}

fn check_half(seed: u64, lo: u64) -> u64 {
    (hash(seed, &[0x1D5, lo]) & !0xF000) | 0x4000
}

/// Encodes a message key as a UUID string.
pub fn encode_message_id(seed: u64, key: MessageKey) -> String {
    let payload = (key.kind << 56)
        | ((key.server as u64 & 0x3FF) << 46)
        | ((key.stream as u64 & 0x3F) << 40)
        | (key.index as u64 & 0xFF_FFFF_FFFF);
    let lo = feistel(seed, payload) | 0x8000_0000_0000_0000;
    uuid_string(check_half(seed, lo), lo)
}

/// Decodes a message ID produced by [`encode_message_id`] with the same seed.
pub fn decode_message_id(seed: u64, id: &str) -> Option<MessageKey> {
    let hex: String = id.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 || id.len() != 36 {
        return None;
    }
    let hi = u64::from_str_radix(&hex[..16], 16).ok()?;
    let lo = u64::from_str_radix(&hex[16..], 16).ok()?;
    if lo >> 62 != 0b10 || check_half(seed, lo) != hi {
        return None;
    }
    let payload = feistel_inverse(seed, lo & 0x3FFF_FFFF_FFFF_FFFF);
    Some(MessageKey {
        kind: payload >> 56,
        server: ((payload >> 46) & 0x3FF) as usize,
        stream: ((payload >> 40) & 0x3F) as usize,
        index: (payload & 0xFF_FFFF_FFFF) as usize,
    })
}

/// Lowercase hex string of `n` hex digits from a hash.
pub fn hex(seed: u64, parts: &[u64], n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        out.push_str(&format!("{:016x}", hash(seed, &[parts, &[i]].concat())));
        i += 1;
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_round_trip() {
        for (i, server, stream) in [(0usize, 0usize, 0usize), (123_456, 2, 3), (9_999_999, 9, 5)] {
            let key = MessageKey {
                kind: KIND_OUTBOUND,
                server,
                stream,
                index: i,
            };
            let id = encode_message_id(42, key);
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4");
            assert_eq!(decode_message_id(42, &id), Some(key));
            assert_eq!(decode_message_id(42, &id.to_uppercase()), Some(key));
            assert_eq!(decode_message_id(43, &id), None);
        }
        assert_eq!(decode_message_id(42, "not-a-uuid"), None);
    }
}

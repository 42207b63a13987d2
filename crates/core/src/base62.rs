//! Base62 (`0-9A-Za-z`): URL-safe, double-click selectable, no padding.

use rand::Rng;

pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fills `out` with uniformly random base62 characters from the OS CSPRNG.
pub fn fill_random(out: &mut [u8]) {
    let mut rng = rand::rngs::OsRng;
    for byte in out.iter_mut() {
        *byte = ALPHABET[rng.gen_range(0..ALPHABET.len())];
    }
}

/// Encodes `value` as exactly `out.len()` base62 digits, most significant first.
pub fn encode_fixed(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
}

pub fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_fixed_width_with_leading_zeros() {
        let mut out = [0u8; 6];
        encode_fixed(61, &mut out);
        assert_eq!(&out, b"00000z");
        encode_fixed(u32::MAX as u64, &mut out);
        assert_eq!(&out, b"4gfFC3");
    }

    #[test]
    fn random_characters_come_from_the_alphabet() {
        let mut out = [0u8; 200];
        fill_random(&mut out);
        assert!(out.iter().all(|b| is_base62(*b)));
    }
}

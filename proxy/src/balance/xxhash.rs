//! XXH64, the hash Envoy uses for ring hash and Maglev placement and for request hash keys:
//! the same function gives endpoints the same ring points and tables as in Envoy.

/// XXH64 of `input` with `seed`.
pub fn xxh64(input: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh64::xxh64(input, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of the reference implementation (`xxhsum -H64`, and xxHash's own sanity tests):
    /// the placement Envoy computes depends on them.
    #[test]
    fn matches_the_reference_implementation() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
    }
}

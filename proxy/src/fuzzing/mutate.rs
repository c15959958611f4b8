//! Deterministic damage to well-formed inputs: what a fuzzer's first rounds do, reproducible
//! from a seed, so that `cargo test` can check the fuzz targets' guarantees on every run.

/// Mutates inputs with a xorshift64 generator: dependency-free and deterministic, so a failure
/// reproduces exactly from the seed and the round.
#[derive(Clone, Debug)]
pub struct Mutator {
    state: u64,
    tokens: &'static [&'static [u8]],
}

/// Byte values that parsers treat specially: zero, sign and continuation bits, all ones.
const INTERESTING: &[u8] = &[0x00, 0x01, 0x7f, 0x80, 0xff];

// === impl Mutator ===

impl Mutator {
    /// A mutator seeded with `seed`, splicing in `tokens`: byte sequences the parser under test
    /// gives meaning to (keywords, delimiters, tags).
    pub fn new(seed: u64, tokens: &'static [&'static [u8]]) -> Self {
        // Zero is xorshift's one fixed point.
        Self {
            state: seed.max(1),
            tokens,
        }
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A number below `n` (zero when `n` is zero).
    pub fn below(&mut self, n: usize) -> usize {
        // Both conversions are lossless on the 64-bit targets the proxy runs on, and the result
        // is below `n` either way.
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// `input` with random edits (usually one, sometimes up to four): bytes overwritten, ranges
    /// deleted, duplicated or cut off, tokens inserted. Single edits keep most inputs well-formed
    /// enough to reach past the parser's first stage.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        let edits = if self.below(4) == 0 {
            2 + self.below(3)
        } else {
            1
        };
        for _ in 0..edits {
            let at = self.below(bytes.len() + 1);
            let len = self.below(32).min(bytes.len() - at);
            match self.below(10) {
                0 | 1 if at < bytes.len() => bytes[at] = self.next_u64() as u8,
                2 if at < bytes.len() => bytes[at] = INTERESTING[self.below(INTERESTING.len())],
                // A byte of the input itself keeps text in its alphabet.
                3 if at < bytes.len() => bytes[at] = bytes[self.below(bytes.len())],
                4 => drop(bytes.drain(at..at + len)),
                5 => {
                    let copy = bytes[at..at + len].to_vec();
                    let to = self.below(bytes.len() + 1);
                    bytes.splice(to..to, copy);
                }
                6 | 7 if !self.tokens.is_empty() => {
                    let token = self.tokens[self.below(self.tokens.len())];
                    bytes.splice(at..at, token.iter().copied());
                }
                _ => bytes.truncate(at + len),
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_damages_the_same_way() {
        let input = b"static_resources: { listeners: [] }";
        let mut a = Mutator::new(7, &[b"{"]);
        let mut b = Mutator::new(7, &[b"{"]);
        let first: Vec<Vec<u8>> = (0..32).map(|_| a.mutate(input)).collect();
        let second: Vec<Vec<u8>> = (0..32).map(|_| b.mutate(input)).collect();
        assert_eq!(first, second);
        assert!(first.iter().any(|m| m.as_slice() != input));
    }

    #[test]
    fn a_zero_seed_still_moves() {
        let mut mutator = Mutator::new(0, &[]);
        let (x, y) = (mutator.next_u64(), mutator.next_u64());
        assert_ne!((x, y), (0, 0));
        assert_ne!(x, y);
        assert_eq!(Mutator::new(0, &[]).below(0), 0);
    }
}

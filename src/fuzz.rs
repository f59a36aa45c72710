//! Test support: a tiny deterministic random source for the fuzz loops in
//! unit tests (cargo-fuzz needs a nightly toolchain).

/// An xorshift64 generator from a non-zero `seed`: the same numbers every run.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

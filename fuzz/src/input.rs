//! Reads choices from the fuzz input. Past its end every read gives 0, so any byte string
//! is a complete program, and 0 always decodes to the common, valid choice.

pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let byte = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        byte
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.u32() as usize) % n
    }

    /// A value in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True one time in `n` (never for the 0 byte, so exhausted input stays valid).
    pub fn one_in(&mut self, n: u8) -> bool {
        self.u8() % n == n - 1
    }
}

/// xorshift64*: array contents and the plain driver's inputs, without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Bits of a normal `float` of magnitude 2^-20..2^21: sums of two are exact to round,
    /// never subnormal, infinite or NaN, so the GPU must match the CPU bit for bit.
    pub fn normal_f32_bits(&mut self) -> u32 {
        let r = self.next_u64();
        let sign = (r as u32) & 0x8000_0000;
        let exponent = 127 - 20 + ((r >> 32) % 41) as u32;
        let mantissa = ((r >> 8) as u32) & 0x007F_FFFF;
        sign | (exponent << 23) | mantissa
    }
}

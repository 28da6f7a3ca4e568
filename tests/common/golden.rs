//! Bits of the default hebb2d run at seed 42 (the default seed until issue 9) on the CPU, shared by the native
//! and the in-browser tests: the CPU path must give these exact numbers on every platform (libm, fixed operation
//! order).
pub const SEED: u32 = 42;
pub const SIGMA3_W1: u64 = 0x403b_72e1_2000_0000; // 27.448747634887695
pub const SIGMA3_W2: u64 = 0x403c_6883_e000_0000; // 28.408262252807617
pub const SIGMA3_RATE: u64 = 0x3f5e_396d_39f0_87e5; // 0.0018447462714523633

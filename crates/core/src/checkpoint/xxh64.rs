//! XXH64 (Yann Collet's xxHash, 64-bit): the checkpoint checksum. Fast (several GB/s), with
//! a public specification and test vectors, and the same result on every platform.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline(always)]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

#[inline(always)]
fn read64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// XXH64 of `data` with `seed`.
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let len = data.len() as u64;
    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        let mut stripes = data.chunks_exact(32);
        for s in &mut stripes {
            v[0] = round(v[0], read64(&s[0..]));
            v[1] = round(v[1], read64(&s[8..]));
            v[2] = round(v[2], read64(&s[16..]));
            v[3] = round(v[3], read64(&s[24..]));
        }
        rest = stripes.remainder();
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for x in v {
            h = merge(h, x);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len);
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        h ^= round(0, read64(w));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        let w = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        h ^= u64::from(w).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::xxh64;
    use alloc::vec::Vec;

    #[test]
    fn reference_vectors() {
        // From the reference implementation (python-xxhash 3.x, `xxh64(data, seed)`).
        let long: Vec<u8> = (0..5).flat_map(|_| 0..=255u8).collect();
        let cases: [(&[u8], u64, u64); 5] = [
            (b"", 0xef46db3751d8e999, 0xd5afba1336a3be4b),
            (b"a", 0xd24ec4f1a98c6e5b, 0xdec2bc81c3cd46c6),
            (b"abc", 0x44bc2cf5ad770999, 0xbea9ca8199328908),
            (
                b"Nobody inspects the spammish repetition",
                0xfbcea83c8a378bf1,
                0x43f425448d954db6,
            ),
            (&long, 0xafc184ad7938a354, 0xf4493e5e44988d52),
        ];
        for (data, seed0, seed1) in cases {
            assert_eq!(xxh64(data, 0), seed0, "len {}", data.len());
            assert_eq!(xxh64(data, 1), seed1, "len {}", data.len());
        }
    }
}

//! Unsigned LEB128 varints as multiformats uses them: minimal, at most 9 bytes.

/// Reads a varint from the front of `bytes`; returns the value and the bytes it used.
/// Rejects overlong (non-minimal) encodings and values over 63 bits.
pub fn read(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // A final zero byte after the first would be a non-minimal encoding.
            if b == 0 && i > 0 {
                return None;
            }
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
pub fn write(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_overlong() {
        for v in [0u64, 1, 0x7f, 0x80, 0xed, 0x1300, u64::MAX >> 1] {
            let mut buf = Vec::new();
            write(v, &mut buf);
            assert_eq!(read(&buf), Some((v, buf.len())));
        }
        assert_eq!(read(&[0x80, 0x00]), None);
        assert_eq!(read(&[0xff; 10]), None);
        assert_eq!(read(&[]), None);
    }
}

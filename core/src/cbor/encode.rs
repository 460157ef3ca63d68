//! Canonical DAG-CBOR encoding of IPLD values.

use crate::value::Value;

/// Encodes a value in canonical DAG-CBOR.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out);
    out
}

/// Appends the canonical DAG-CBOR encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Integer(i) => {
            if *i >= 0 {
                write_header(out, 0, *i as u64);
            } else {
                // -1 - n for major type 1; the data model keeps i within -2^64.
                write_header(out, 1, (-1 - *i) as u64);
            }
        }
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::String(s) => {
            write_header(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            write_header(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            write_header(out, 4, items.len() as u64);
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Map(map) => {
            write_header(out, 5, map.len() as u64);
            for (k, v) in map.iter() {
                write_header(out, 3, k.len() as u64);
                out.extend_from_slice(k.as_bytes());
                encode_into(v, out);
            }
        }
        Value::Link(cid) => {
            out.extend_from_slice(&[0xd8, 0x2a]);
            let bytes = cid.as_bytes();
            write_header(out, 2, bytes.len() as u64 + 1);
            out.push(0x00);
            out.extend_from_slice(bytes);
        }
    }
}

/// Writes a major type and argument in the shortest form.
pub(super) fn write_header(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

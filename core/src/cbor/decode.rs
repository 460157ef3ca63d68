//! Strict decoding of canonical DAG-CBOR into IPLD values.

use std::cmp::Ordering;

use crate::cid::Cid;
use crate::value::{Map, Value, canonical_key_order};

/// How deeply lists and maps may nest.
pub const MAX_DEPTH: usize = 64;

/// Why a byte string is not canonical DAG-CBOR, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DAG-CBOR at byte {offset}: {reason}")]
pub struct CborError {
    pub offset: usize,
    pub reason: &'static str,
}

/// Decodes exactly one canonical DAG-CBOR value that spans all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    let mut d = Decoder { bytes, pos: 0 };
    let value = d.value(0)?;
    if d.pos != bytes.len() {
        return Err(d.error("trailing bytes after the value"));
    }
    Ok(value)
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn error(&self, reason: &'static str) -> CborError {
        CborError {
            offset: self.pos,
            reason,
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.remaining() {
            return Err(self.error("unexpected end of input"));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    /// Reads an initial byte and its argument; rejects non-minimal and indefinite forms.
    fn header(&mut self) -> Result<(u8, u8, u64), CborError> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => {
                let v = u64::from(self.byte()?);
                if v < 24 && major != 7 {
                    return Err(self.error("integer or length not in its shortest form"));
                }
                v
            }
            25 => self.fixed::<2>(0x100, major)?,
            26 => self.fixed::<4>(0x1_0000, major)?,
            27 => self.fixed::<8>(0x1_0000_0000, major)?,
            31 => return Err(self.error("indefinite lengths are not allowed")),
            _ => return Err(self.error("reserved additional information")),
        };
        Ok((major, info, arg))
    }

    fn fixed<const N: usize>(&mut self, min: u64, major: u8) -> Result<u64, CborError> {
        let raw = self.take(N)?;
        let mut buf = [0u8; 8];
        buf[8 - N..].copy_from_slice(raw);
        let v = u64::from_be_bytes(buf);
        // Major type 7 carries floats here, where "minimal" does not apply.
        if v < min && major != 7 {
            return Err(self.error("integer or length not in its shortest form"));
        }
        Ok(v)
    }

    fn length(&self, arg: u64) -> Result<usize, CborError> {
        usize::try_from(arg)
            .ok()
            .filter(|&n| n <= self.remaining())
            .ok_or_else(|| self.error("length exceeds the input"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, CborError> {
        let start = self.pos;
        let (major, info, arg) = self.header()?;
        match major {
            0 => Ok(Value::Integer(i128::from(arg))),
            1 => Ok(Value::Integer(-1 - i128::from(arg))),
            2 => {
                let n = self.length(arg)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => Ok(Value::String(self.text(arg)?)),
            4 => {
                let n = self.length(arg)?;
                let depth = self.deeper(depth, start)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                Ok(Value::List(items))
            }
            5 => self.map(arg, depth, start),
            6 => self.link(arg),
            _ => self.simple(info, arg, start),
        }
    }

    fn deeper(&self, depth: usize, start: usize) -> Result<usize, CborError> {
        if depth >= MAX_DEPTH {
            return Err(CborError {
                offset: start,
                reason: "nested too deeply",
            });
        }
        Ok(depth + 1)
    }

    fn text(&mut self, arg: u64) -> Result<String, CborError> {
        let n = self.length(arg)?;
        let start = self.pos;
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| CborError {
                offset: start,
                reason: "string is not valid UTF-8",
            })
    }

    fn map(&mut self, arg: u64, depth: usize, start: usize) -> Result<Value, CborError> {
        // Each entry takes at least two bytes.
        let n = usize::try_from(arg)
            .ok()
            .filter(|&n| n <= self.remaining() / 2)
            .ok_or_else(|| self.error("length exceeds the input"))?;
        let depth = self.deeper(depth, start)?;
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(n);
        for _ in 0..n {
            let key_at = self.pos;
            let (major, _, arg) = self.header()?;
            if major != 3 {
                return Err(CborError {
                    offset: key_at,
                    reason: "map keys must be strings",
                });
            }
            let key = self.text(arg)?;
            if let Some((prev, _)) = entries.last() {
                match canonical_key_order(prev, &key) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        return Err(CborError {
                            offset: key_at,
                            reason: "duplicate map key",
                        });
                    }
                    Ordering::Greater => {
                        return Err(CborError {
                            offset: key_at,
                            reason: "map keys are not in canonical order",
                        });
                    }
                }
            }
            let value = self.value(depth)?;
            entries.push((key, value));
        }
        Ok(Value::Map(Map::from_canonical_entries(entries)))
    }

    fn link(&mut self, tag: u64) -> Result<Value, CborError> {
        if tag != 42 {
            return Err(self.error("only tag 42 (CID) is allowed"));
        }
        let at = self.pos;
        let (major, _, arg) = self.header()?;
        if major != 2 {
            return Err(CborError {
                offset: at,
                reason: "a CID must be a byte string",
            });
        }
        let n = self.length(arg)?;
        let raw = self.take(n)?;
        match raw.split_first() {
            Some((0x00, cid)) => Cid::from_bytes(cid)
                .map(Value::Link)
                .map_err(|_| CborError {
                    offset: at,
                    reason: "malformed CID",
                }),
            _ => Err(CborError {
                offset: at,
                reason: "a CID must start with the identity multibase prefix 0x00",
            }),
        }
    }

    fn simple(&mut self, info: u8, arg: u64, start: usize) -> Result<Value, CborError> {
        let fail = |reason| {
            Err(CborError {
                offset: start,
                reason,
            })
        };
        match info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 => Ok(Value::Null),
            23 => fail("undefined is not allowed"),
            25 | 26 => fail("floats must be encoded in 64 bits"),
            27 => {
                let f = f64::from_bits(arg);
                if f.is_finite() {
                    Ok(Value::Float(f))
                } else {
                    fail("NaN and infinities are not allowed")
                }
            }
            _ => fail("simple values other than true, false and null are not allowed"),
        }
    }
}

//! Reading a container: header detection, base decoding, bounded gunzip, and the
//! extraction of the token list from the CBOR payload.

use std::borrow::Cow;
use std::io::Read;

use data_encoding::{BASE64, BASE64URL_NOPAD, Encoding as Alphabet};
use flate2::read::MultiGzDecoder;

use super::KEY;
use super::error::{ContainerError, ContainerLimits};
use super::header::{Encoding, Header};
use crate::cbor;
use crate::value::Value;

/// Reads `input` within `limits`: the header it carries and the token bytes, in order
/// and with any duplicates still in.
pub(super) fn parse(
    input: &[u8],
    limits: &ContainerLimits,
) -> Result<(Header, Vec<Vec<u8>>), ContainerError> {
    if input.len() > limits.max_bytes {
        return Err(ContainerError::TooLarge {
            len: input.len(),
            max: limits.max_bytes,
        });
    }
    let (header, body) = split_header(input)?;
    let payload = match header.encoding {
        Encoding::Raw => Cow::Borrowed(body),
        Encoding::Base64 => {
            Cow::Owned(debase(&BASE64, "base64 (standard alphabet, padded)", body)?)
        }
        Encoding::Base64Url => Cow::Owned(debase(
            &BASE64URL_NOPAD,
            "base64url (URL-safe alphabet, unpadded)",
            body,
        )?),
    };
    let cbor = if header.gzip {
        Cow::Owned(gunzip(&payload, limits.max_decompressed)?)
    } else {
        payload
    };
    Ok((header, tokens(&cbor, limits.max_tokens)?))
}

/// Finds the header byte. Text forms may be wrapped in ASCII whitespace (a trailing
/// newline, say); raw forms are taken byte for byte.
fn split_header(input: &[u8]) -> Result<(Header, &[u8]), ContainerError> {
    let trimmed = input.trim_ascii();
    let (&first, rest) = trimmed.split_first().ok_or(ContainerError::Empty)?;
    if let Some(header) = Header::from_byte(first).filter(|h| h.is_text()) {
        return Ok((header, rest.trim_ascii()));
    }
    let (&first, rest) = input.split_first().ok_or(ContainerError::Empty)?;
    match Header::from_byte(first) {
        Some(header) if !header.is_text() => Ok((header, rest)),
        _ => Err(ContainerError::UnknownHeader(first)),
    }
}

fn debase(alphabet: &Alphabet, name: &'static str, text: &[u8]) -> Result<Vec<u8>, ContainerError> {
    alphabet.decode(text).map_err(|e| ContainerError::Base64 {
        alphabet: name,
        detail: e.to_string(),
    })
}

/// Inflates a gzip stream (one member or several, as RFC 1952 allows), reading at most
/// one byte past `max` so that a small bomb costs no more than `max` bytes of work.
fn gunzip(compressed: &[u8], max: usize) -> Result<Vec<u8>, ContainerError> {
    if compressed.is_empty() {
        return Err(ContainerError::Gzip("the stream is empty".to_owned()));
    }
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    MultiGzDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ContainerError::Gzip(e.to_string()))?;
    if out.len() > max {
        return Err(ContainerError::DecompressedTooLarge { max });
    }
    Ok(out)
}

/// Takes the token list out of the CBOR payload `{"ctn-v1": [bytes, …]}`.
fn tokens(cbor: &[u8], max_tokens: usize) -> Result<Vec<Vec<u8>>, ContainerError> {
    precheck(cbor, max_tokens)?;
    let value = cbor::decode(cbor)?;
    let Value::Map(mut map) = value else {
        return Err(ContainerError::NotAContainer {
            found: article(value.kind()),
        });
    };
    if map.len() != 1 {
        return Err(ContainerError::NotAContainer {
            found: format!("a map with {} keys", map.len()),
        });
    }
    let Some(list) = map.remove(KEY) else {
        return Err(wrong_key());
    };
    let Value::List(items) = list else {
        return Err(ContainerError::NotAList { found: list.kind() });
    };
    if items.len() > max_tokens {
        return Err(too_many(items.len() as u64, max_tokens));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Bytes(token) => Ok(token),
            other => Err(ContainerError::NotBytes {
                index,
                found: other.kind(),
            }),
        })
        .collect()
}

/// Walks the outer heads of the payload before the full decode, so that no length
/// claimed by the input makes the decoder reserve memory for more than `max_tokens`
/// items, or for anything nested inside an item. Where the heads are malformed it
/// stops and lets the full decoder report the precise error.
fn precheck(cbor: &[u8], max_tokens: usize) -> Result<(), ContainerError> {
    let mut pos = 0;
    let Some((major, arg)) = head(cbor, &mut pos) else {
        return Ok(());
    };
    if major != 5 {
        return Err(ContainerError::NotAContainer {
            found: article(kind(major)),
        });
    }
    if arg != 1 {
        return Err(ContainerError::NotAContainer {
            found: format!("a map with {arg} keys"),
        });
    }
    let Some((major, arg)) = head(cbor, &mut pos) else {
        return Ok(());
    };
    let key = pos
        .checked_add(KEY.len())
        .and_then(|end| cbor.get(pos..end));
    if major != 3 || arg != KEY.len() as u64 {
        return Err(wrong_key());
    }
    match key {
        Some(key) if key == KEY.as_bytes() => pos += KEY.len(),
        Some(_) => return Err(wrong_key()),
        None => return Ok(()),
    }
    let Some((major, count)) = head(cbor, &mut pos) else {
        return Ok(());
    };
    if major != 4 {
        return Err(ContainerError::NotAList { found: kind(major) });
    }
    if count > max_tokens as u64 {
        return Err(too_many(count, max_tokens));
    }
    // Lossless: count is at most max_tokens.
    for index in 0..count as usize {
        let Some((major, len)) = head(cbor, &mut pos) else {
            return Ok(());
        };
        if major != 2 {
            return Err(ContainerError::NotBytes {
                index,
                found: kind(major),
            });
        }
        match usize::try_from(len)
            .ok()
            .and_then(|len| pos.checked_add(len))
        {
            Some(end) if end <= cbor.len() => pos = end,
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Reads the CBOR head at `*pos`: major type and argument. `None` when it is truncated,
/// indefinite or reserved.
fn head(bytes: &[u8], pos: &mut usize) -> Option<(u8, u64)> {
    let initial = *bytes.get(*pos)?;
    let info = initial & 0x1f;
    let width = match info {
        0..=23 => 0,
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    let start = pos.checked_add(1)?;
    let end = start.checked_add(width)?;
    let raw = bytes.get(start..end)?;
    let arg = if width == 0 {
        u64::from(info)
    } else {
        raw.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
    };
    *pos = end;
    Some((initial >> 5, arg))
}

/// The kind of value a CBOR major type carries, named as [`Value::kind`] names it.
fn kind(major: u8) -> &'static str {
    match major {
        0 | 1 => "integer",
        2 => "bytes",
        3 => "string",
        4 => "list",
        5 => "map",
        6 => "link",
        _ => "simple value or float",
    }
}

fn article(kind: &str) -> String {
    match kind {
        "null" => "null".to_owned(),
        k if k.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {k}"),
        k => format!("a {k}"),
    }
}

fn wrong_key() -> ContainerError {
    ContainerError::NotAContainer {
        found: "a map with another key".to_owned(),
    }
}

fn too_many(count: u64, max: usize) -> ContainerError {
    ContainerError::TooManyTokens { count, max }
}

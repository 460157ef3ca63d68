//! The limits that bound the work of reading a container, and what can go wrong.

use crate::cbor::CborError;

use super::header::Header;

/// Bounds on the work [`Container::parse`](super::Container::parse) will do on untrusted input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerLimits {
    /// Largest input accepted, header and any surrounding whitespace included.
    pub max_bytes: usize,
    /// Largest CBOR payload a gzip stream may inflate to.
    pub max_decompressed: usize,
    /// Most tokens one container may hold.
    pub max_tokens: usize,
}

impl Default for ContainerLimits {
    /// 1 MiB of input, 4 MiB after decompression, 64 tokens.
    fn default() -> Self {
        ContainerLimits {
            max_bytes: 1 << 20,
            max_decompressed: 4 << 20,
            max_tokens: 64,
        }
    }
}

/// Why an input is not a container we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    #[error("the container is empty: expected a header byte followed by the payload")]
    Empty,
    #[error("the container is {} long; at most {} are allowed", size(.len), size(.max))]
    TooLarge { len: usize, max: usize },
    #[error(
        "unknown container header byte {} (expected one of {}){}",
        describe_byte(.0),
        expected_headers(),
        header_hint(.0)
    )]
    UnknownHeader(u8),
    #[error("the container payload is not valid {alphabet}: {detail}")]
    Base64 {
        alphabet: &'static str,
        detail: String,
    },
    #[error("the container's gzip stream is corrupt: {0}")]
    Gzip(String),
    #[error("the decompressed container exceeds {}", size(.max))]
    DecompressedTooLarge { max: usize },
    #[error("the container payload is not canonical DAG-CBOR: {0}")]
    Cbor(#[from] CborError),
    #[error("expected a map with the single key \"ctn-v1\", found {found}")]
    NotAContainer { found: String },
    #[error("the \"ctn-v1\" value must be a list of token byte strings, found {found}")]
    NotAList { found: &'static str },
    #[error("container item {index} must be a token byte string, found {found}")]
    NotBytes { index: usize, found: &'static str },
    #[error("the container holds {count} tokens; at most {max} are allowed")]
    TooManyTokens { count: u64, max: usize },
}

/// A byte count the way people read it: "4 MiB", "512 KiB", "1000 bytes".
fn size(n: &usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    match *n {
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}

fn describe_byte(b: &u8) -> String {
    if b.is_ascii_graphic() {
        format!("0x{b:02X} ({:?})", char::from(*b))
    } else {
        format!("0x{b:02X}")
    }
}

fn expected_headers() -> String {
    Header::ALL
        .iter()
        .map(|h| describe_byte(&h.byte()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A guess at the usual mistake: the header byte got lost on the way.
fn header_hint(b: &u8) -> &'static str {
    match b {
        // A one-entry CBOR map: the payload without its header.
        0xA1 => "; this looks like a bare CBOR payload: raw containers start with '@'",
        // Base64 of that same map byte.
        b'o' => "; this looks like bare base64: base64 containers start with 'B' or 'C'",
        // A token envelope is a two-element CBOR list.
        0x82 => "; this looks like a single token, not a container",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(&(4 << 20)), "4 MiB");
        assert_eq!(size(&2048), "2 KiB");
        assert_eq!(size(&1000), "1000 bytes");
        assert_eq!(size(&1), "1 byte");
    }

    #[test]
    fn unknown_header_lists_the_spec_bytes() {
        let message = ContainerError::UnknownHeader(0x5A).to_string();
        assert_eq!(
            message,
            "unknown container header byte 0x5A ('Z') (expected one of 0x40 ('@'), \
             0x42 ('B'), 0x43 ('C'), 0x4D ('M'), 0x4F ('O'), 0x50 ('P'))"
        );
        let message = ContainerError::UnknownHeader(0xA1).to_string();
        assert!(message.starts_with("unknown container header byte 0xA1 (expected"));
        assert!(message.ends_with("raw containers start with '@'"));
    }
}

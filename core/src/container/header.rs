//! The one-byte header that opens every container: which base encoding and which
//! compression the payload after it uses.

use std::fmt;

/// How the (possibly compressed) CBOR payload is written after the header byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The bytes as they are.
    Raw,
    /// Base64, standard alphabet, with padding.
    Base64,
    /// Base64, URL-safe alphabet, without padding.
    Base64Url,
}

/// One of the six header variants of the container spec: an encoding, gzip or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    pub encoding: Encoding,
    pub gzip: bool,
}

impl Header {
    /// `0x40` (`@`): raw bytes, no compression.
    pub const RAW: Header = Header::new(Encoding::Raw, false);
    /// `0x42` (`B`): base64 standard padded, no compression. The default text form.
    pub const BASE64: Header = Header::new(Encoding::Base64, false);
    /// `0x43` (`C`): base64 URL-safe unpadded, no compression.
    pub const BASE64_URL: Header = Header::new(Encoding::Base64Url, false);
    /// `0x4D` (`M`): raw bytes, gzip.
    pub const RAW_GZIP: Header = Header::new(Encoding::Raw, true);
    /// `0x4F` (`O`): base64 standard padded, gzip.
    pub const BASE64_GZIP: Header = Header::new(Encoding::Base64, true);
    /// `0x50` (`P`): base64 URL-safe unpadded, gzip.
    pub const BASE64_URL_GZIP: Header = Header::new(Encoding::Base64Url, true);

    /// Every variant, in the order of their header bytes.
    pub const ALL: [Header; 6] = [
        Header::RAW,
        Header::BASE64,
        Header::BASE64_URL,
        Header::RAW_GZIP,
        Header::BASE64_GZIP,
        Header::BASE64_URL_GZIP,
    ];

    pub const fn new(encoding: Encoding, gzip: bool) -> Header {
        Header { encoding, gzip }
    }

    /// The header byte, as the spec's table assigns it.
    pub const fn byte(self) -> u8 {
        match (self.encoding, self.gzip) {
            (Encoding::Raw, false) => 0x40,
            (Encoding::Base64, false) => 0x42,
            (Encoding::Base64Url, false) => 0x43,
            (Encoding::Raw, true) => 0x4D,
            (Encoding::Base64, true) => 0x4F,
            (Encoding::Base64Url, true) => 0x50,
        }
    }

    /// The variant a header byte stands for, if any.
    pub fn from_byte(byte: u8) -> Option<Header> {
        Header::ALL.into_iter().find(|h| h.byte() == byte)
    }

    /// Whether the payload is base64 text (and so may be surrounded by whitespace).
    pub const fn is_text(self) -> bool {
        !matches!(self.encoding, Encoding::Raw)
    }
}

impl Default for Header {
    /// Base64, standard alphabet, padded, no compression: the form [`to_text`] writes.
    ///
    /// [`to_text`]: super::Container::to_text
    fn default() -> Self {
        Header::BASE64
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoding = match self.encoding {
            Encoding::Raw => "raw bytes",
            Encoding::Base64 => "base64 (standard, padded)",
            Encoding::Base64Url => "base64url (unpadded)",
        };
        let compression = if self.gzip { "gzip" } else { "uncompressed" };
        write!(f, "{encoding}, {compression}")
    }
}

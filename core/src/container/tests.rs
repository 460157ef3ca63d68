//! Unit tests of the container format: header bytes, round trips, and every class of
//! malformed input.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;

use super::*;

fn sample() -> Container {
    Container::new([
        vec![1, 2, 3],
        vec![],
        b"token two".to_vec(),
        vec![0xff; 300],
    ])
}

fn limits() -> ContainerLimits {
    ContainerLimits::default()
}

fn parse(input: &[u8]) -> Result<Container, ContainerError> {
    Container::parse(input, &limits())
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn with_header(byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![byte];
    out.extend_from_slice(body);
    out
}

#[test]
fn header_bytes_are_the_specs() {
    let expected = [
        (Header::RAW, 0x40, b'@'),
        (Header::BASE64, 0x42, b'B'),
        (Header::BASE64_URL, 0x43, b'C'),
        (Header::RAW_GZIP, 0x4D, b'M'),
        (Header::BASE64_GZIP, 0x4F, b'O'),
        (Header::BASE64_URL_GZIP, 0x50, b'P'),
    ];
    for (header, hex, ascii) in expected {
        assert_eq!(header.byte(), hex);
        assert_eq!(header.byte(), ascii);
        assert_eq!(Header::from_byte(hex), Some(header));
    }
    let known = (0..=255u8)
        .filter(|&b| Header::from_byte(b).is_some())
        .count();
    assert_eq!(known, 6);
    assert_eq!(Header::default(), Header::BASE64);
}

#[test]
fn every_variant_round_trips() {
    let container = sample();
    for header in Header::ALL {
        let bytes = container.to_bytes(header);
        assert_eq!(bytes[0], header.byte(), "{header}");
        if header.is_text() {
            assert!(bytes.is_ascii(), "{header}");
        }
        let (back, seen) = Container::parse_with_header(&bytes, &limits()).unwrap();
        assert_eq!(seen, header);
        assert_eq!(back.tokens(), container.tokens(), "{header}");
    }
}

#[test]
fn payload_is_the_ctn_v1_map() {
    let container = Container::new([vec![1, 2, 3], vec![9]]);
    let mut expected = vec![0xA1, 0x66];
    expected.extend_from_slice(b"ctn-v1");
    expected.extend_from_slice(&[0x82, 0x43, 1, 2, 3, 0x41, 9]);
    assert_eq!(container.to_cbor(), expected);
    assert_eq!(
        container.to_bytes(Header::RAW),
        with_header(b'@', &expected)
    );
    assert_eq!(
        container.to_bytes(Header::BASE64),
        with_header(b'B', BASE64.encode(&expected).as_bytes())
    );
    assert_eq!(
        container.to_bytes(Header::BASE64_URL),
        with_header(b'C', BASE64URL_NOPAD.encode(&expected).as_bytes())
    );
    assert!(container.to_text().starts_with("BoWZjdG4tdjG"));
}

#[test]
fn text_alphabets_and_padding_follow_the_header() {
    // 0xfb 0xff bytes produce '+' and '/' in the standard alphabet.
    let container = Container::new([vec![0xfb, 0xff, 0xfe, 0xfb], vec![0xfb; 7]]);
    let std = container.to_bytes(Header::BASE64);
    let url = container.to_bytes(Header::BASE64_URL);
    assert!(std.iter().any(|b| b"+/".contains(b)));
    assert!(!url.iter().any(|b| b"+/=".contains(b)));
    assert_eq!(container.to_text().as_bytes(), std.as_slice());
}

#[test]
fn empty_container_round_trips() {
    let empty = Container::new([]);
    for header in Header::ALL {
        assert!(parse(&empty.to_bytes(header)).unwrap().is_empty());
    }
}

#[test]
fn repeats_are_dropped_and_order_does_not_matter() {
    let a = vec![1u8];
    let b = vec![2u8];
    let container = Container::new([a.clone(), b.clone(), a.clone()]);
    assert_eq!(container.tokens(), [a.clone(), b.clone()]);
    assert_eq!(container, Container::new([b.clone(), a.clone()]));
    assert_ne!(container, Container::new([a.clone()]));

    // A reader accepts a repeat written by another implementation, and keeps it once.
    let mut cbor = vec![0xA1, 0x66];
    cbor.extend_from_slice(b"ctn-v1");
    cbor.extend_from_slice(&[0x83, 0x41, 1, 0x41, 2, 0x41, 1]);
    assert_eq!(parse(&with_header(b'@', &cbor)).unwrap().tokens(), [a, b]);
}

#[test]
fn text_may_be_wrapped_in_whitespace_raw_may_not() {
    let container = sample();
    for header in Header::ALL.into_iter().filter(|h| h.is_text()) {
        let mut text = b" \t\r\n".to_vec();
        text.extend_from_slice(&container.to_bytes(header));
        text.extend_from_slice(b"\r\n");
        assert_eq!(parse(&text).unwrap(), container, "{header}");
    }
    let mut raw = container.to_bytes(Header::RAW);
    raw.push(b'\n');
    assert!(matches!(parse(&raw), Err(ContainerError::Cbor(_))));
    let raw = with_header(b' ', &container.to_bytes(Header::RAW));
    assert_eq!(parse(&raw), Err(ContainerError::UnknownHeader(b' ')));
}

#[test]
fn by_cid_hashes_each_token() {
    let container = sample();
    let pairs: Vec<_> = container.by_cid().collect();
    assert_eq!(pairs.len(), container.len());
    for (cid, token) in &pairs {
        assert_eq!(*cid, Cid::dag_cbor(token));
        assert_eq!(container.get(cid), Some(*token));
    }
    assert_eq!(container.get(&Cid::dag_cbor(b"absent")), None);
}

#[test]
fn rejects_empty_and_oversized_input() {
    assert_eq!(parse(b""), Err(ContainerError::Empty));
    assert_eq!(parse(b" \n "), Err(ContainerError::Empty));
    let small = ContainerLimits {
        max_bytes: 10,
        ..limits()
    };
    let err = Container::parse(&sample().to_bytes(Header::RAW), &small).unwrap_err();
    assert!(matches!(err, ContainerError::TooLarge { max: 10, .. }));
    assert!(
        err.to_string().ends_with("at most 10 bytes are allowed"),
        "{err}"
    );
}

#[test]
fn rejects_unknown_headers() {
    for byte in (0..=255u8).filter(|&b| Header::from_byte(b).is_none() && !b.is_ascii_whitespace())
    {
        assert_eq!(
            parse(&[byte, 0xA1]),
            Err(ContainerError::UnknownHeader(byte))
        );
    }
    // The payload without its header byte.
    let bare = sample().to_cbor();
    let err = parse(&bare).unwrap_err();
    assert_eq!(err, ContainerError::UnknownHeader(0xA1));
    assert!(err.to_string().contains("start with '@'"));
    let bare = BASE64.encode(&sample().to_cbor());
    assert_eq!(
        parse(bare.as_bytes()),
        Err(ContainerError::UnknownHeader(b'o'))
    );
}

#[test]
fn rejects_bad_base64() {
    let cbor = sample().to_cbor();
    let cases: Vec<Vec<u8>> = vec![
        b"B!!!!".to_vec(),
        // Standard base64 without its padding.
        with_header(b'B', BASE64URL_NOPAD.encode(&cbor[..10]).as_bytes()),
        // Padding under the unpadded header.
        with_header(b'C', BASE64.encode(&cbor[..10]).as_bytes()),
        // Standard-alphabet characters under the URL header.
        with_header(b'C', b"++//"),
        // Whitespace inside the text.
        with_header(b'B', b"oWZj dG4t"),
    ];
    for case in cases {
        let err = parse(&case).unwrap_err();
        assert!(matches!(err, ContainerError::Base64 { .. }), "{err:?}");
        assert!(err.to_string().contains("not valid base64"), "{err}");
    }
}

#[test]
fn rejects_corrupt_gzip() {
    let good = sample().to_bytes(Header::RAW_GZIP);
    let mut bad_crc = good.clone();
    let at = bad_crc.len() - 6;
    bad_crc[at] ^= 0xff;
    let cases = [
        b"M".to_vec(),
        b"Mnot gzip at all".to_vec(),
        good[..good.len() - 3].to_vec(),
        good[..20].to_vec(),
        bad_crc,
        // Garbage after the gzip member.
        [good.as_slice(), b"junk"].concat(),
    ];
    for case in cases {
        let err = parse(&case).unwrap_err();
        assert!(matches!(err, ContainerError::Gzip(_)), "{err:?}");
        assert!(err.to_string().contains("gzip stream is corrupt"), "{err}");
    }
}

#[test]
fn accepts_multi_member_gzip() {
    let cbor = sample().to_cbor();
    let (front, back) = cbor.split_at(20);
    let body = [gz(front), gz(back)].concat();
    assert_eq!(parse(&with_header(b'M', &body)).unwrap(), sample());
}

#[test]
fn gzip_bomb_is_refused_by_the_bound() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..50 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = with_header(b'M', &encoder.finish().unwrap());
    assert!(bomb.len() < limits().max_bytes);
    let err = parse(&bomb).unwrap_err();
    assert_eq!(err, ContainerError::DecompressedTooLarge { max: 4 << 20 });
    assert_eq!(err.to_string(), "the decompressed container exceeds 4 MiB");
    // Also as text.
    let text = with_header(b'O', BASE64.encode(&bomb[1..]).as_bytes());
    assert_eq!(parse(&text).unwrap_err(), err);
}

#[test]
fn decompressed_bound_is_exact() {
    let cbor = sample().to_cbor();
    let body = with_header(b'M', &gz(&cbor));
    let exact = ContainerLimits {
        max_decompressed: cbor.len(),
        ..limits()
    };
    assert_eq!(Container::parse(&body, &exact).unwrap(), sample());
    let short = ContainerLimits {
        max_decompressed: cbor.len() - 1,
        ..limits()
    };
    assert!(matches!(
        Container::parse(&body, &short),
        Err(ContainerError::DecompressedTooLarge { .. })
    ));
}

/// `{"ctn-v1": <value>}` as raw container bytes.
fn raw_with_value(value: &[u8]) -> Vec<u8> {
    let mut out = vec![b'@', 0xA1, 0x66];
    out.extend_from_slice(b"ctn-v1");
    out.extend_from_slice(value);
    out
}

#[test]
fn rejects_payloads_of_the_wrong_shape() {
    let not_container = |input: &[u8]| match parse(input) {
        Err(e @ ContainerError::NotAContainer { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("expected a map with the single key \"ctn-v1\"")
            );
        }
        other => panic!("{other:?}"),
    };
    not_container(b"@\x80"); // a list
    not_container(b"@\x01"); // an integer
    not_container(b"@\xA0"); // an empty map
    not_container(b"@\xA1\x66ctn-v2\x80"); // another key
    not_container(b"@\xA1\x61a\x80"); // another, shorter key
    let mut two_keys = b"@\xA2\x61a\x80\x66ctn-v1\x80".to_vec();
    not_container(&two_keys);
    two_keys[1] = 0xA1;
    assert!(matches!(
        parse(&two_keys),
        Err(ContainerError::NotAContainer { .. })
    ));

    let err = parse(&raw_with_value(b"\x41\x01")).unwrap_err();
    assert_eq!(err, ContainerError::NotAList { found: "bytes" });
    let err = parse(&raw_with_value(b"\x82\x41\x01\x61x")).unwrap_err();
    assert_eq!(
        err,
        ContainerError::NotBytes {
            index: 1,
            found: "string"
        }
    );
    assert_eq!(
        err.to_string(),
        "container item 1 must be a token byte string, found string"
    );
    // A nested list claiming a huge length is refused before anything is reserved for it.
    let err = parse(&raw_with_value(b"\x81\x9B\x00\x00\x00\x00\xFF\xFF\xFF\xFF")).unwrap_err();
    assert_eq!(
        err,
        ContainerError::NotBytes {
            index: 0,
            found: "list"
        }
    );
}

#[test]
fn rejects_non_canonical_cbor() {
    let cases: [&[u8]; 5] = [
        b"\x81\x58\x01\x07",         // a one-byte string with a non-minimal length
        b"\x9F\x41\x01\xFF",         // an indefinite-length list
        b"\x81\x41\x01\x00",         // trailing bytes
        b"\x82\x41\x01",             // truncated
        b"\x81\x5A\xFF\xFF\xFF\xFF", // a length beyond the input
    ];
    for case in cases {
        let err = parse(&raw_with_value(case)).unwrap_err();
        assert!(matches!(err, ContainerError::Cbor(_)), "{case:?}: {err:?}");
        assert!(err.to_string().contains("not canonical DAG-CBOR"), "{err}");
    }
}

#[test]
fn rejects_too_many_tokens() {
    let tokens = (0..70u8).map(|i| vec![i]);
    let bytes = Container::new(tokens).to_bytes(Header::BASE64_GZIP);
    let err = parse(&bytes).unwrap_err();
    assert_eq!(err, ContainerError::TooManyTokens { count: 70, max: 64 });
    assert_eq!(
        err.to_string(),
        "the container holds 70 tokens; at most 64 are allowed"
    );
    // A list head claiming 2^64 - 1 items is refused from the head alone.
    let err = parse(&raw_with_value(b"\x9B\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF")).unwrap_err();
    assert_eq!(
        err,
        ContainerError::TooManyTokens {
            count: u64::MAX,
            max: 64
        }
    );
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
        for header in Header::ALL {
            let body = if header.gzip { gz(&bytes) } else { bytes.clone() };
            let body = match header.encoding {
                Encoding::Raw => body,
                Encoding::Base64 => BASE64.encode(&body).into_bytes(),
                Encoding::Base64Url => BASE64URL_NOPAD.encode(&body).into_bytes(),
            };
            let _ = parse(&with_header(header.byte(), &body));
            let _ = parse(&with_header(header.byte(), &bytes));
        }
        let _ = parse(&raw_with_value(&bytes));
    }

    #[test]
    fn arbitrary_token_lists_round_trip(
        tokens in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..12),
        which in 0..6usize,
    ) {
        let container = Container::new(tokens.clone());
        let mut unique: Vec<Vec<u8>> = Vec::new();
        for token in tokens {
            if !unique.contains(&token) {
                unique.push(token);
            }
        }
        prop_assert_eq!(container.tokens(), unique.as_slice());
        let header = Header::ALL[which];
        let back = parse(&container.to_bytes(header)).unwrap();
        prop_assert_eq!(back.tokens(), container.tokens());
    }
}

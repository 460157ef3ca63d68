//! The container format around the official UCAN 1.0 delegation fixture: every header
//! variant round-trips the token bytes, and the token hashes to the fixture's CID.

use countersign_core::container::{Container, ContainerLimits, Header};
use countersign_core::{Cid, cbor};
use data_encoding::BASE64;
use serde_json::Value as Json;

const DELEGATION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/ucan-1.0/delegation.json"
);

/// The fixture's token bytes and CID text.
fn delegation() -> (Vec<u8>, String) {
    let text = std::fs::read_to_string(DELEGATION).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    let case = &json["valid"][0];
    let token = BASE64
        .decode(case["token"].as_str().unwrap().as_bytes())
        .unwrap();
    (token, case["cid"].as_str().unwrap().to_owned())
}

#[test]
fn fixture_token_hashes_to_its_cid() {
    let (token, cid) = delegation();
    assert_eq!(Cid::dag_cbor(&token).to_string(), cid);
    let expected: Cid = cid.parse().unwrap();
    let container = Container::new([token.clone()]);
    let pairs: Vec<_> = container.by_cid().collect();
    assert_eq!(pairs, [(expected.clone(), token.as_slice())]);
    assert_eq!(container.get(&expected), Some(token.as_slice()));
}

#[test]
fn fixture_token_round_trips_in_every_variant() {
    let (token, cid) = delegation();
    let container = Container::new([token.clone()]);
    let limits = ContainerLimits::default();
    for header in Header::ALL {
        let bytes = container.to_bytes(header);
        assert_eq!(bytes[0], header.byte(), "{header}");
        let (back, seen) = Container::parse_with_header(&bytes, &limits).unwrap();
        assert_eq!(seen, header);
        assert_eq!(back.tokens(), std::slice::from_ref(&token), "{header}");
        let (back_cid, back_token) = back.by_cid().next().unwrap();
        assert_eq!(back_cid.to_string(), cid);
        // The bytes that come out are still the canonical envelope.
        assert_eq!(cbor::encode(&cbor::decode(back_token).unwrap()), token);
    }
    let text = container.to_text();
    assert!(text.starts_with('B'));
    assert_eq!(
        text.as_bytes(),
        container.to_bytes(Header::BASE64).as_slice()
    );
    let line = format!("{text}\n");
    assert_eq!(
        Container::parse(line.as_bytes(), &limits).unwrap(),
        container
    );
}

#[test]
fn fixture_token_among_others_keeps_one_copy() {
    let (token, _) = delegation();
    let other = cbor::encode(&cbor::decode(b"\x82\x41\x00\x41\x01").unwrap());
    let container = Container::new([token.clone(), other.clone(), token.clone()]);
    assert_eq!(container.tokens(), [token.clone(), other.clone()]);
    let reordered = Container::new([other, token]);
    for header in Header::ALL {
        let parsed =
            Container::parse(&reordered.to_bytes(header), &ContainerLimits::default()).unwrap();
        assert_eq!(parsed, container, "{header}");
    }
}

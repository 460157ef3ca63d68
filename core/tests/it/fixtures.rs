//! Every case of the official UCAN 1.0 fixtures: delegation, invocation (valid and invalid
//! with the named error kind).

use countersign_core::envelope::{Envelope, TokenKind};
use countersign_core::json::decode_base64;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, TokenRef, Validator};
use countersign_core::{Cid, Delegation, Keypair, cbor};
use serde_json::Value as Json;

fn fixture(name: &str) -> Json {
    let path = format!(
        "{}/../../shared/fixtures/ucan-1.0/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes_of(v: &Json) -> Vec<u8> {
    let text = v["/"]["bytes"]
        .as_str()
        .or_else(|| v.as_str())
        .unwrap_or_else(|| panic!("no bytes in {v}"));
    decode_base64(text).unwrap_or_else(|| panic!("bad base64 {text}"))
}

#[test]
fn delegation_fixture_decodes_verifies_and_has_the_expected_cid() {
    let f = fixture("delegation.json");
    let cases = f["valid"].as_array().expect("valid cases");
    assert!(!cases.is_empty());
    let validator = Validator::new(Limits::default(), 0);
    for case in cases {
        let token = bytes_of(&case["token"]);
        let cid: Cid = case["cid"]
            .as_str()
            .expect("cid")
            .parse()
            .expect("cid parses");
        assert_eq!(Cid::dag_cbor(&token), cid, "{}", case["name"]);
        let d: Delegation = validator
            .open_delegation(&TokenRef::Proof(0, cid), &token)
            .expect("fixture delegation verifies");
        let p = &case["envelope"]["payload"];
        assert_eq!(d.issuer.to_string(), p["iss"]);
        assert_eq!(d.audience.to_string(), p["aud"]);
        assert_eq!(
            d.subject.map(|s| s.to_string()),
            p["sub"].as_str().map(str::to_owned)
        );
        assert_eq!(d.command.as_str(), p["cmd"]);
        assert_eq!(d.expiration, p["exp"].as_u64());
        assert_eq!(
            d.nonce,
            decode_base64(p["nonce"].as_str().expect("nonce")).expect("b64")
        );
        assert!(d.policy.is_empty());
        // Re-encoding the decoded payload gives back the signed bytes exactly.
        let envelope = Envelope::open(&token).expect("opens");
        assert_eq!(envelope.kind, TokenKind::Delegation);
        assert_eq!(
            envelope.signature().to_vec(),
            decode_base64(case["envelope"]["signature"].as_str().expect("sig")).expect("b64")
        );
        assert_eq!(
            &cbor::encode(&countersign_core::Value::Map(d.to_payload())),
            &cbor::encode(&countersign_core::Value::Map(envelope.payload.clone()))
        );
    }
}

#[test]
fn fixture_principal_keys_match_their_dids() {
    let f = fixture("delegation.json");
    let principals = f["principals"].as_object().expect("principals");
    let dids: Vec<String> = principals
        .values()
        .map(|k| {
            let raw = decode_base64(k.as_str().expect("key")).expect("b64");
            // varint(0x1300) then the 32-byte seed.
            assert_eq!(&raw[..2], &[0x80, 0x26]);
            let seed: [u8; 32] = raw[2..].try_into().expect("32 bytes");
            Keypair::from_seed(&seed).did().to_string()
        })
        .collect();
    let token = bytes_of(&f["valid"][0]["token"]);
    let envelope = Envelope::open(&token).expect("opens");
    let iss = envelope
        .payload
        .get("iss")
        .and_then(|v| v.as_str())
        .expect("iss");
    assert!(
        dids.iter().any(|d| d == iss),
        "issuer key is among the principals"
    );
}

fn run_invocation_case(validator: &Validator, case: &Json) -> Result<(), String> {
    let invocation = bytes_of(&case["invocation"]);
    let proofs = ProofSet::new(
        case["proofs"]
            .as_array()
            .expect("proofs")
            .iter()
            .map(bytes_of),
    );
    let now = case["time"].as_u64().expect("time");
    let ctx = Context {
        now,
        audience: None,
        revocations: &NoRevocations,
    };
    validator
        .validate(&invocation, &proofs, &ctx)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", e.kind()))
}

#[test]
fn invocation_fixtures_pass_with_the_named_error_kinds() {
    let f = fixture("invocation.json");
    let valid = f["valid"].as_array().expect("valid");
    let invalid = f["invalid"].as_array().expect("invalid");
    assert_eq!((valid.len(), invalid.len()), (7, 13));
    // Run each case cold and again with a warm cache: memoization must not change a verdict.
    for cache in [0, 1024] {
        let validator = Validator::new(Limits::default(), cache);
        for _pass in 0..2 {
            for case in valid {
                if let Err(e) = run_invocation_case(&validator, case) {
                    panic!("valid case {:?} failed: {e}", case["name"]);
                }
            }
            for case in invalid {
                let want = case["error"]["name"].as_str().expect("error name");
                match run_invocation_case(&validator, case) {
                    Ok(()) => panic!("invalid case {:?} passed", case["name"]),
                    Err(e) => assert!(
                        e.starts_with(&format!("{want}:")),
                        "case {:?}: expected {want}, got {e}",
                        case["name"]
                    ),
                }
            }
        }
    }
}

//! Hostile input against the in-process service: bodies, tokens, diffs and nesting beyond
//! the limits, over-long chains, a forged JWT of every shape, and text meant to mislead the
//! person approving (control characters, bidirectional overrides). Each is refused with the
//! API's error shape, never a 5xx. The long JWT property run reads `COUNTERSIGN_FUZZ_CASES`.

use axum::http::{Method, StatusCode};
use countersign_core::sample::CountingNonces;
use countersign_core::validate::{Context, Limits, NoRevocations, ProofSet, Validator};
use countersign_core::{DelegationBuilder, InvocationBuilder, Keypair, Map};
use countersign_server::auth::jwt;
use serde_json::{Value, json};

use crate::support::{NOW, TestApp, as_u64, key};

const REFUND: &str = "/payment/refund";

fn request(summary: &str) -> Value {
    json!({
        "cmd": REFUND,
        "args": {"charge": "ch_1", "amount": 4900},
        "summary": summary,
        "reason": "customer asked",
        "lifetime": 120,
    })
}

async fn scene() -> (TestApp, Keypair, Keypair) {
    let app = TestApp::new().await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("billing-bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([])).await;
    (app, agent, device)
}

fn assert_refused(status: StatusCode, body: &Value, expected: StatusCode, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{what}: not the error shape: {body}"
    );
}

#[tokio::test]
async fn an_oversized_body_is_413_in_the_error_shape() {
    let (app, agent, _) = scene().await;
    let mut body = request("big");
    body["reason"] = json!("x".repeat(app.state.config.limits.max_body_bytes));
    let (s, b) = app.request(&agent, body).await;
    assert_refused(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "oversized body");
}

#[tokio::test]
async fn oversized_tokens_are_refused() {
    let (app, agent, device) = scene().await;
    // A JWT beyond the accepted length, however well signed, is not read.
    let claims = jwt::Claims {
        iss: agent.did().to_string(),
        aud: app.service.to_string(),
        iat: NOW,
        exp: NOW + 60,
        jti: "j".into(),
        reason: Some("x".repeat(8192)),
        ..jwt::Claims::default()
    };
    let token = jwt::sign(&agent, &claims).unwrap();
    let (s, b) = app
        .call_with(Method::GET, "/v1/requests", Some(token), None)
        .await;
    assert_refused(s, &b, StatusCode::UNAUTHORIZED, "oversized JWT");
    // An approval token beyond the token limit, inside the body limit.
    let (s, created) = app.request(&agent, request("Refund 49.00")).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (s, b) = app.approve(&device, id, "A".repeat(128 * 1024)).await;
    assert_refused(s, &b, StatusCode::BAD_REQUEST, "oversized approval");
}

#[tokio::test]
async fn huge_diffs_are_refused() {
    let (app, agent, _) = scene().await;
    let mut body = request("diff");
    body["diff"] = json!({"text": "+".repeat(64 * 1024 + 1)});
    let (s, b) = app.request(&agent, body).await;
    assert_refused(s, &b, StatusCode::BAD_REQUEST, "diff text");
    let fields: Vec<Value> = (0..101)
        .map(|i| json!({"path": format!("f{i}"), "before": 0, "after": 1}))
        .collect();
    let mut body = request("diff");
    body["diff"] = json!({ "fields": fields });
    let (s, b) = app.request(&agent, body).await;
    assert_refused(s, &b, StatusCode::BAD_REQUEST, "diff fields");
}

fn nested(depth: usize, leaf: Value, wrap: impl Fn(Value) -> Value) -> Value {
    (0..depth).fold(leaf, |inner, _| wrap(inner))
}

#[tokio::test]
async fn deeply_nested_args_and_policies_are_refused_cleanly() {
    let (app, agent, _) = scene().await;
    for depth in [20, 100, 127, 1000] {
        let mut body = request("nested");
        body["args"] = json!({ "a": nested(depth, json!(1), |v| json!({ "a": v })) });
        let (s, b) = app.request(&agent, body).await;
        // Shallow nesting is ordinary input; deep nesting is refused, never a 5xx.
        if depth >= 100 {
            assert_refused(s, &b, StatusCode::BAD_REQUEST, &format!("args at {depth}"));
        } else {
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }

        let mut body = request("nested");
        body.as_object_mut().unwrap().remove("args");
        let statement = nested(depth, json!(["==", ".a", 1]), |v| json!(["not", v]));
        body["policy"] = json!([statement]);
        let (s, b) = app.request(&agent, body).await;
        assert_refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            &format!("policy at {depth}"),
        );
    }
    // Too deep for the JSON reader as raw text, too.
    let text = format!(
        r#"{{"cmd":"{REFUND}","summary":"x","args":{{"a":{}1{}}}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let token = app.jwt(&agent);
    let req = axum::http::Request::post("/v1/requests")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(text))
        .unwrap();
    use tower::ServiceExt;
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn a_chain_longer_than_the_core_limit_is_refused() {
    let limits = Limits::default();
    let keys: Vec<Keypair> = (0..=limits.max_chain + 1)
        .map(|i| Keypair::from_seed(&[u8::try_from(i + 40).unwrap(); 32]))
        .collect();
    let owner = &keys[0];
    let now = as_u64(NOW);
    let mut nonces = CountingNonces::new(1);
    let mut proofs = Vec::new();
    for pair in keys.windows(2) {
        let signed =
            DelegationBuilder::new(pair[1].did(), Some(owner.did()), REFUND.parse().unwrap())
                .expiration(Some(now + 600))
                .sign(&pair[0], &mut nonces);
        proofs.push(signed.bytes);
    }
    assert!(proofs.len() > limits.max_chain);
    let cids: Vec<_> = proofs
        .iter()
        .rev()
        .map(|p| countersign_core::Cid::dag_cbor(p))
        .collect();
    let agent = keys.last().unwrap();
    let gateway = key(77).did();
    let inv = InvocationBuilder::new(owner.did(), REFUND.parse().unwrap(), Map::new())
        .audience(gateway)
        .proofs(cids)
        .expiration(Some(now + 60))
        .sign(agent, &mut nonces);
    let ctx = Context {
        now,
        audience: Some(gateway),
        revocations: &NoRevocations,
    };
    let err = Validator::new(limits, 0)
        .validate(&inv.bytes, &ProofSet::new(proofs), &ctx)
        .unwrap_err();
    assert!(err.to_string().contains("chain"), "{err}");
}

/// What must never reach the approver's screen as it is: terminal escapes, other control
/// characters, and bidirectional overrides that reorder what the person reads.
const MISLEADING: [&str; 6] = [
    "\u{7}bell",
    "\u{1b}[2J\u{1b}[31mred",
    "nul\u{0}",
    "refund 10\u{202e}0001",
    "isolate\u{2066}x\u{2069}",
    "del\u{7f}",
];

#[tokio::test]
async fn text_shown_to_the_approver_refuses_control_and_bidi_characters() {
    let (app, agent, device) = scene().await;
    for bad in MISLEADING {
        let mut cases = vec![("summary", request(bad)), ("reason", request("ok"))];
        cases[1].1["reason"] = json!(bad);
        let mut path = request("ok");
        path["diff"] = json!({"fields": [{"path": bad, "before": 0, "after": 1}]});
        cases.push(("diff path", path));
        let mut text = request("ok");
        text["diff"] = json!({ "text": format!("-a\n+{bad}\n") });
        cases.push(("diff text", text));
        for (field, body) in cases {
            let (s, b) = app.request(&agent, body).await;
            assert_refused(s, &b, StatusCode::BAD_REQUEST, &format!("{field} {bad:?}"));
        }
        let (s, b) = app
            .call(
                Method::POST,
                "/v1/agents",
                Some(&app.owner),
                Some(json!({"name": bad, "did": key(60).did().to_string(), "allow": ["/x"]})),
            )
            .await;
        assert_refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            &format!("agent name {bad:?}"),
        );
    }
    // Device names and denial reasons.
    for bad in MISLEADING {
        let (s, created) = app
            .call(
                Method::POST,
                "/v1/pairings",
                Some(&app.owner),
                Some(json!({"name": "phone", "allow": ["/payment"], "policy": []})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let (s, b) = app
            .call(
                Method::POST,
                "/v1/pairings/claim",
                Some(&key(61)),
                Some(json!({"code": created["code"], "name": bad})),
            )
            .await;
        assert_refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            &format!("device name {bad:?}"),
        );
    }
    let (s, created) = app.request(&agent, request("Refund 49.00")).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    for bad in MISLEADING {
        let claims = jwt::Claims {
            iss: device.did().to_string(),
            aud: app.service.to_string(),
            iat: NOW,
            exp: NOW + 60,
            jti: format!("deny-{}", bad.len()),
            sub: Some(id.to_owned()),
            reason: Some(bad.to_owned()),
        };
        let statement = jwt::sign(&device, &claims).unwrap();
        let (s, b) = app
            .call(
                Method::POST,
                &format!("/v1/requests/{id}/deny"),
                Some(&device),
                Some(json!({"reason": bad, "statement": statement})),
            )
            .await;
        assert_refused(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            &format!("deny reason {bad:?}"),
        );
    }
}

fn fuzz_cases() -> u64 {
    std::env::var("COUNTERSIGN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// xorshift64*: reproducible input without a dependency; the seed is printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn char(&mut self) -> char {
        // Mostly the token's own alphabet, sometimes anything.
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
        if self.below(8) == 0 {
            char::from_u32(u32::try_from(self.next() % 0x11_0000).unwrap()).unwrap_or('\u{fffd}')
        } else {
            char::from(ALPHABET[self.below(ALPHABET.len())])
        }
    }
}

/// `jwt::verify` on mutated and random tokens: no panic; no altered token verifies
/// (except in the last character, whose unused base64url bits may change); and tokens over
/// the length limit are refused before any decoding.
#[test]
fn jwt_verify_refuses_every_altered_token() {
    let rules = jwt::TimeRules {
        now: NOW,
        max_lifetime: 300,
        skew: 30,
    };
    let service = key(9).did();
    let good = jwt::issue(&key(4), &service, NOW, 60, "j".into()).unwrap();
    assert!(jwt::verify(&good, &service, rules).is_ok());
    let seed = std::env::var("COUNTERSIGN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = Rng(seed | 1);
    let chars: Vec<char> = good.chars().collect();
    for case in 0..fuzz_cases() {
        let mut altered = chars.clone();
        for _ in 0..=rng.below(3) {
            let i = rng.below(altered.len());
            match rng.below(3) {
                0 => altered[i] = rng.char(),
                1 => {
                    altered.remove(i);
                }
                _ => altered.insert(i, rng.char()),
            }
        }
        let text: String = altered.iter().collect();
        let last_only =
            altered.len() == chars.len() && altered[..chars.len() - 1] == chars[..chars.len() - 1];
        if text != good && !last_only {
            assert!(
                jwt::verify(&text, &service, rules).is_err(),
                "case {case} (seed {seed}) verified: {text}"
            );
        }
        let random: String = (0..rng.below(600)).map(|_| rng.char()).collect();
        assert!(jwt::verify(&random, &service, rules).is_err());
    }
    let long = format!("{good}{}", "A".repeat(4097));
    assert_eq!(
        jwt::verify(&long, &service, rules),
        Err(jwt::JwtError::Malformed)
    );
}

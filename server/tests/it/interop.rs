//! A chain the service issued, invoked and then validated by the independent UCAN 1.0
//! implementation iso-ucan (Node), as a gateway built on it would.
//!
//! Needs Node and `npm ci` in `tests/`; without them the test says so and passes, unless
//! `COUNTERSIGN_REQUIRE_NODE` is set (as CI sets it).

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use countersign_core::container::{Container, ContainerLimits};
use countersign_core::sample::CountingNonces;
use countersign_core::{Cid, InvocationBuilder, json};
use serde_json::json;

use crate::support::{TestApp, as_u64, key};

fn node_suite() -> Option<std::path::PathBuf> {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let ready = Command::new("node").arg("--version").output().is_ok()
        && suite.join("node_modules/iso-ucan").is_dir();
    if ready {
        return Some(suite);
    }
    if std::env::var_os("COUNTERSIGN_REQUIRE_NODE").is_some() {
        panic!("interop test cannot run: needs node and `npm ci` in tests/");
    }
    eprintln!("SKIPPED iso-ucan validation of an issued chain: needs node and `npm ci` in tests/");
    None
}

#[tokio::test]
async fn iso_ucan_accepts_a_chain_the_service_issued() {
    let Some(suite) = node_suite() else { return };
    let app = TestApp::new().await;
    let (agent, device) = (key(4), key(2));
    app.add_agent("bot", &agent, &["/payment"]).await;
    app.pair(&device, &["/payment"], json!([["<=", ".amount", 100000]]))
        .await;
    let args = json!({"charge": "ch_1", "amount": 4900});
    let (s, created) = app
        .request(
            &agent,
            json!({"cmd": "/payment/refund", "args": args, "summary": "Refund 49.00"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let view = app.view(&device, id).await;
    let (s, _) = app
        .approve(
            &device,
            id,
            app.approval_for(&device, &view, json!([]), 120),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let container = app.view(&agent, id).await["container"]
        .as_str()
        .unwrap()
        .to_owned();
    let proofs = Container::parse(container.as_bytes(), &ContainerLimits::default())
        .unwrap()
        .tokens()
        .to_vec();

    let gateway = key(5).did();
    let now = as_u64(app.clock_now());
    let invoke = |args: &serde_json::Value| {
        let countersign_core::Value::Map(map) = json::from_json(args).unwrap() else {
            panic!()
        };
        let inv = InvocationBuilder::new(app.owner.did(), "/payment/refund".parse().unwrap(), map)
            .audience(gateway)
            .proofs(proofs.iter().map(|p| Cid::dag_cbor(p)).collect())
            .expiration(Some(now + 300))
            .sign(&agent, &mut CountingNonces::new(3));
        let mut tokens = vec![inv.bytes];
        tokens.extend(proofs.iter().cloned());
        Container::new(tokens).to_text()
    };
    let validate = |text: String| {
        let file = std::env::temp_dir().join(format!(
            "cs-interop-{}-{}.txt",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&file, text).unwrap();
        let out = Command::new("node")
            .arg(suite.join("interop/validate-container.mjs"))
            .arg(&file)
            .arg(now.to_string())
            .arg(gateway.to_string())
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, report) = validate(invoke(&args));
    assert!(ok, "iso-ucan refused the issued chain: {report}");
    let (ok, report) = validate(invoke(&json!({"charge": "ch_1", "amount": 99999})));
    assert!(
        !ok,
        "iso-ucan accepted args outside the approved policy: {report}"
    );
}

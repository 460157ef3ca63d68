//! The approver web app: its pairing vectors (made here, from the service's own
//! `verification_string`), and its two Node suites — the unit tests of its DAG-CBOR, UCAN,
//! JWT and pairing code (`tests/unit`), and the browser end-to-end tests (`tests/e2e`:
//! Debian's Chromium driven by playwright-core against a real `countersign serve`).
//!
//! The suites need Node with `npm ci` run in `tests/`, the `countersign` binary
//! (`cargo build -p countersign-cli`, or `COUNTERSIGN_BIN`), and for the browser tests
//! `/usr/bin/chromium`. Without them a test says it is skipped and passes, unless
//! `COUNTERSIGN_REQUIRE_NODE` (unit tests) or `COUNTERSIGN_REQUIRE_BROWSER` (both) is set.

use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_core::Keypair;
use countersign_server::pairing::verification_string;
use data_encoding::HEXLOWER;
use serde_json::{Value, json};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests")
}

fn vectors_file() -> PathBuf {
    suite_dir().join("unit/vectors/pairing.json")
}

/// Pairing codes as people type them, and the DIDs of keys from fixed seeds.
fn pairing_vectors() -> Value {
    let seeds: Vec<[u8; 32]> = (1u8..=4)
        .map(|n| {
            let mut seed = [n; 32];
            seed[31] = n.wrapping_mul(37);
            seed
        })
        .collect();
    let dids: Vec<Value> = seeds
        .iter()
        .map(
            |s| json!({"seed": HEXLOWER.encode(s), "did": Keypair::from_seed(s).did().to_string()}),
        )
        .collect();
    let codes = [
        "ABCDE-FGHJK",
        "abcde fghjk",
        "o1l0i-xyz23",
        "7QW2M-K9PRT",
        "7qw2m k9prt",
        "Ünïcode-12345-é",
        "",
    ];
    let mut cases = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let device = Keypair::from_seed(&seeds[i % seeds.len()]).did();
        let service = Keypair::from_seed(&seeds[(i + 1) % seeds.len()]).did();
        cases.push(json!({
            "code": code,
            "device": device.to_string(),
            "service": service.to_string(),
            "verification": verification_string(code, &device, &service),
        }));
    }
    json!({
        "about": "verification strings and did:key values computed by countersign-server; \
                  regenerate with UPDATE_VECTORS=1 cargo test -p countersign-server --test it web",
        "dids": dids,
        "verification": cases,
    })
}

#[test]
fn pairing_vectors_for_the_app_are_current() {
    let expected = serde_json::to_string_pretty(&pairing_vectors()).unwrap() + "\n";
    let file = vectors_file();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(
        committed,
        expected,
        "{} is out of date: run UPDATE_VECTORS=1 cargo test -p countersign-server --test it web",
        file.display()
    );
}

#[tokio::test]
async fn the_service_serves_the_app_beside_the_api() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    let app = crate::support::TestApp::new().await;
    let get = |path: &str| {
        app.router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
    };
    let page = get("/").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
    assert!(page.headers().contains_key("permissions-policy"));
    let worker = get("/sw.js").await.unwrap();
    assert_eq!(
        worker.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // The API keeps its JSON 404, and the app's tools are not served.
    for path in ["/v1/no-such-thing", "/tools/make-icons.mjs", "/nope.html"] {
        let missing = get(path).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        let body = axum::body::to_bytes(missing.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let service = get("/v1/service").await.unwrap();
    assert_eq!(service.status(), StatusCode::OK);
}

/// Why a suite cannot run here, if it cannot.
fn missing(browser: bool) -> Option<String> {
    let suite = suite_dir();
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if !suite.join("node_modules/iso-ucan").is_dir() {
        return Some("run `npm ci` in tests/ first".into());
    }
    if !cli_binary().is_file() {
        return Some(format!(
            "the countersign binary is not at {} (run `cargo build -p countersign-cli` or set COUNTERSIGN_BIN)",
            cli_binary().display()
        ));
    }
    if browser {
        if !suite.join("node_modules/playwright-core").is_dir() {
            return Some("playwright-core is not installed: run `npm ci` in tests/".into());
        }
        if !chromium().is_file() {
            return Some(format!(
                "Chromium is not at {} (apt-get install chromium)",
                chromium().display()
            ));
        }
    }
    None
}

fn cli_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("COUNTERSIGN_BIN") {
        return PathBuf::from(bin);
    }
    // This test runs from <target>/<profile>/deps/; the binary is in <target>/<profile>/.
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("countersign")))
        .unwrap_or_else(|| suite_dir().join("../target/debug/countersign"))
}

fn chromium() -> PathBuf {
    std::env::var_os("COUNTERSIGN_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Runs `node --test` on the suite's files under `dir`; the TAP report.
fn run_node_suite(dir: &str) -> String {
    let suite = suite_dir();
    let mut files: Vec<_> = std::fs::read_dir(suite.join(dir))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no test files in tests/{dir}");
    let out = Command::new("node")
        .args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
        .args(&files)
        .current_dir(&suite)
        .env("COUNTERSIGN_BIN", cli_binary())
        .env("COUNTERSIGN_CHROMIUM", chromium())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the Node suite in tests/{dir} failed:\n{report}"
    );
    assert!(!report.contains("# pass 0"), "no case ran:\n{report}");
    assert!(
        !report.contains("# skipped") || report.contains("# skipped 0"),
        "cases were skipped:\n{report}"
    );
    report
}

#[test]
fn the_app_code_passes_its_unit_tests() {
    let required = std::env::var_os("COUNTERSIGN_REQUIRE_NODE").is_some()
        || std::env::var_os("COUNTERSIGN_REQUIRE_BROWSER").is_some();
    if let Some(reason) = missing(false) {
        assert!(!required, "the app's unit tests cannot run: {reason}");
        eprintln!("SKIPPED the approver app's unit tests (tests/unit): {reason}");
        return;
    }
    run_node_suite("unit");
}

#[test]
fn the_app_works_in_chromium() {
    let required = std::env::var_os("COUNTERSIGN_REQUIRE_BROWSER").is_some();
    if let Some(reason) = missing(true) {
        assert!(!required, "the browser tests cannot run: {reason}");
        eprintln!("SKIPPED the approver app's browser tests (tests/e2e): {reason}");
        return;
    }
    let report = run_node_suite("e2e");
    eprintln!("browser tests passed; screenshots in tests/artifacts/");
    assert!(report.contains("# pass"), "{report}");
}

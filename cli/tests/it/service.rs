//! The service commands against a running service: in-process over a temporary SQLite
//! file, or (for the restart test) the `countersign serve` binary itself. Every client
//! is the real `countersign` binary.

use std::net::TcpListener;

use countersign_core::{Did, Keypair};
use countersign_server::config::Config;
use serde_json::Value as Json;

use crate::support::{Run, Scene, Served, assert_one_line_error, http_get, line_after, now};

#[test]
fn an_agent_gets_a_capability_a_paired_terminal_approved() {
    let scene = Scene::new("story");
    // `init` is idempotent and keeps the key private.
    let again = scene.ok_owner(&["init"]);
    assert!(again.contains("already exists"), "{again}");
    assert_eq!(line_after(&again, "owner DID: "), scene.owner);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(scene.owner_dir.join("owner.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(scene.device_dir.join("device.pem"));
        assert!(mode.is_err(), "no device key before joining");
    }

    scene.add_agent("/email/send");
    let device_id = scene.pair_device();
    let devices = scene.ok_owner(&["device", "list"]);
    assert!(
        devices.starts_with(&format!("{device_id}  test terminal")),
        "{devices}"
    );

    let args = r#"{"to": "bob@example.com", "subject": "Lunch?"}"#;
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--summary",
        "Email Bob about lunch",
        "--reason",
        "Bob asked",
    ]);
    let approved = scene.ok_device(&["approve", &id]);
    assert!(
        approved.starts_with(&format!("approved {id}")),
        "{approved}"
    );

    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    assert_eq!(request.stdout.lines().count(), 1, "{}", request.stdout);
    let container = request.stdout;

    let executor = scene.executor();
    let invocation = scene.invoke(&executor, "/email/send", args, &container);
    let verdict = scene.ok_owner(&["verify", &invocation, "--audience", &executor]);
    assert!(verdict.starts_with("valid: "), "{verdict}");
    assert!(
        verdict.contains(&format!("on {} (3 proofs)", scene.owner)),
        "{verdict}"
    );
    // Other arguments are not what was approved.
    let other = scene.invoke(
        &executor,
        "/email/send",
        r#"{"to": "eve@example.com", "subject": "Lunch?"}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &other, "--audience", &executor]);
    assert_eq!(verdict.code, 1, "{verdict:?}");
}

#[test]
fn a_denial_reaches_the_waiting_agent_with_its_reason() {
    let scene = Scene::new("deny");
    scene.add_agent("/payment");
    scene.pair_device();
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/payment/refund",
        "--args",
        r#"{"order": "A-17", "amount": 4900}"#,
        "--summary",
        "Refund order A-17",
    ]);
    let denied = scene.ok_device(&["deny", &id, "--reason", "not this one"]);
    assert_eq!(denied, format!("denied {id}"));
    let request = request.finish();
    assert_eq!(request.code, 3, "{request:?}");
    assert!(request.stdout.is_empty(), "{request:?}");
    assert!(
        request.stderr.contains("denied: not this one"),
        "{request:?}"
    );
    // Decided once: a late approval is refused.
    let late = scene.device(&["approve", &id]);
    assert_one_line_error(&late, "not pending");
}

#[test]
fn a_narrowed_approval_issues_a_narrower_chain() {
    let scene = Scene::new("narrow");
    scene.add_agent("/payment/refund");
    scene.pair_device();
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/payment/refund",
        "--policy",
        r#"[["<=", ".amount", 100]]"#,
        "--summary",
        "Refunds up to 100",
        "--lifetime",
        "10m",
    ]);
    scene.ok_device(&[
        "approve",
        &id,
        "--narrow-policy",
        r#"[["<=", ".amount", 50]]"#,
        "--expires-in",
        "2m",
    ]);
    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    let container = request.stdout;

    let inspected: Json =
        serde_json::from_str(&scene.ok_owner(&["inspect", &container, "--output", "json"]))
            .unwrap();
    let tokens = inspected["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    let issued = tokens
        .iter()
        .find(|t| t["aud"] == scene.agent.as_str())
        .unwrap();
    let pol = serde_json::json!([["<=", ".amount", 100], ["<=", ".amount", 50]]);
    assert_eq!(issued["pol"], pol);
    assert_eq!(issued["signature_valid"], true);
    let lifetime = issued["exp"].as_i64().unwrap() - now();
    assert!((60..=120).contains(&lifetime), "{lifetime}");

    let executor = scene.executor();
    let within = scene.invoke(
        &executor,
        "/payment/refund",
        r#"{"amount": 30}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &within, "--audience", &executor]);
    assert_eq!(verdict.code, 0, "{verdict:?}");
    let beyond = scene.invoke(
        &executor,
        "/payment/refund",
        r#"{"amount": 70}"#,
        &container,
    );
    let verdict = scene.owner(&["verify", &beyond, "--audience", &executor]);
    assert_eq!(verdict.code, 1, "{verdict:?}");
    assert!(
        verdict.stdout.starts_with("invalid: MatchError"),
        "{verdict:?}"
    );
}

#[test]
fn number_matching_takes_the_code_the_agent_shows() {
    let scene = Scene::configured("matching", |config| {
        config.requests.number_matching = vec!["/payment".into()];
    });
    scene.add_agent("/payment");
    scene.pair_device();
    let (request, id, code) = scene.request_with_code(&[
        "--cmd",
        "/payment/refund",
        "--args",
        r#"{"order": "A-17"}"#,
        "--summary",
        "Refund order A-17",
    ]);
    // Without a terminal to ask on, the code must be given; the choices are listed.
    let unasked = scene.device(&["approve", &id]);
    assert_one_line_error(&unasked, "--match");
    let listed = unasked.stderr.rsplit_once("(one of ").unwrap().1;
    let choices: Vec<&str> = listed.trim_end_matches(')').split(", ").collect();
    assert_eq!(choices.len(), 3, "{listed}");
    assert!(choices.contains(&code.as_str()), "{code} in {listed}");
    let offered = scene.device(&["approve", &id, "--match", "100"]);
    assert_one_line_error(&offered, "not among the codes offered");
    let wrong = choices.iter().find(|c| **c != code).unwrap();
    let refused = scene.device(&["approve", &id, "--match", wrong]);
    assert_one_line_error(&refused, "(match_wrong)");

    let approved = scene.ok_device(&["approve", &id, "--match", &code]);
    assert!(
        approved.starts_with(&format!("approved {id}")),
        "{approved}"
    );
    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    let inspected: Json =
        serde_json::from_str(&scene.ok_owner(&["inspect", &request.stdout, "--output", "json"]))
            .unwrap();
    let approval = inspected["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["meta"]["countersign/match"].is_string())
        .unwrap();
    assert_eq!(approval["meta"]["countersign/match"], code.as_str());
}

#[test]
fn configuration_listing_and_errors() {
    let scene = Scene::new("basics");
    let example = scene.ok_owner(&["config", "example"]);
    let path = scene.dir.join("example.toml");
    std::fs::write(&path, &example).unwrap();
    let config = Config::load_from(Some(&path), Vec::new()).unwrap();
    assert_eq!(config.listen, Config::default().listen);

    scene.add_agent("/email/send");
    let listed: Json =
        serde_json::from_str(&scene.ok_owner(&["agent", "list", "--output", "json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "helper");
    assert_eq!(listed[0]["did"], scene.agent.as_str());
    assert_eq!(listed[0]["allow"], serde_json::json!(["/email/send"]));

    // The service's refusals, on one line each.
    let again = scene.owner(&[
        "agent",
        "add",
        "helper",
        "--did",
        &scene.agent,
        "--allow",
        "/x",
    ]);
    assert_one_line_error(&again, "the service refused: ");
    assert!(again.stderr.ends_with("(already_exists)"), "{again:?}");
    let not_owner = scene.owner(&["agent", "list", "--key", "agent.pem"]);
    assert_one_line_error(&not_owner, "(forbidden)");
    let not_allowed = scene.owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/shell/exec",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert_one_line_error(&not_allowed, "may not request /shell/exec (forbidden)");
    let unknown = scene.owner(&["device", "remove", "dev_nosuch"]);
    assert_one_line_error(&unknown, "(not_found)");
    let no_device = scene.device(&["approve", "req_x"]);
    assert_one_line_error(&no_device, "countersign device join");
    let no_terminal = scene.owner(&["device", "pair"]);
    assert_one_line_error(&no_terminal, "--yes");

    // A request without --wait prints its id; removing the agent ends its access.
    let id = scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(
        scene.ok_owner(&["agent", "remove", "helper"]),
        "removed agent helper"
    );
    let removed = scene.owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        "{}",
        "--summary",
        "x",
    ]);
    assert_one_line_error(&removed, "not a registered agent");

    let mut unreachable = scene.command(&scene.owner_dir, &["agent", "list"]);
    unreachable.args(["--service", "http://127.0.0.1:1"]);
    let out = unreachable.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    };
    assert_one_line_error(&run, "cannot reach the service at http://127.0.0.1:1");
}

#[test]
fn an_issued_chain_survives_a_killed_service() {
    let mut scene = Scene::prepare("restart");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    scene.service = format!("http://127.0.0.1:{port}");
    let served = Served::start(&scene, port);
    let (_, info) = http_get(port, "/v1/service", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    assert_eq!(info["owner"], scene.owner.as_str());
    let service: Did = info["did"].as_str().unwrap().parse().unwrap();

    scene.add_agent("/email/send");
    scene.pair_device();
    let id = scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "bob@example.com"}"#,
        "--summary",
        "Email Bob",
    ]);
    scene.ok_device(&["approve", &id]);

    let agent =
        Keypair::from_pkcs8_pem(&std::fs::read_to_string(scene.dir.join("agent.pem")).unwrap())
            .unwrap();
    let as_agent = || {
        let mut jti = [0u8; 16];
        getrandom::getrandom(&mut jti).unwrap();
        let jti = jti.iter().map(|b| format!("{b:02x}")).collect();
        let token = countersign_server::auth::jwt::issue(&agent, &service, now(), 60, jti).unwrap();
        let (status, body) = http_get(port, &format!("/v1/requests/{id}"), Some(&token)).unwrap();
        assert_eq!(status, 200, "{body}");
        let view: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(view["state"], "approved", "{view}");
        view["container"].as_str().unwrap().to_owned()
    };
    let before = as_agent();

    served.kill();
    let served = Served::start(&scene, port);
    let (_, info) = http_get(port, "/v1/service", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    assert_eq!(info["did"], service.to_string(), "the service key is kept");
    assert_eq!(as_agent(), before, "the same chain, issued once");
    let late = scene.device(&["approve", &id]);
    assert_one_line_error(&late, "not pending");
    let devices = scene.ok_owner(&["device", "list"]);
    assert!(devices.contains("test terminal"), "{devices}");
    drop(served);
}

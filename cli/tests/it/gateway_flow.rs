//! The whole path of a side effect: the agent asks the service with `countersign request`,
//! a paired device approves with `countersign approve`, the agent sends the invocation to
//! a real `countersign gateway` with `countersign invoke --gateway`, and the gateway sends
//! the mail through a real SMTP server on loopback (Python's aiosmtpd, the gateway
//! tests' `gateway/tests/smtp_server.py`) with a password only the gateway holds.

use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::Instant;

use serde_json::Value as Json;

use crate::smtp::SmtpServer;
use crate::support::{
    InProcess, Lines, PATIENCE, POLL, Scene, Spawned, countersign, free_port, http_get,
};

const PASSWORD: &str = "smtp-Pa55word-only-the-gateway-knows";
const SMTP_USER: &str = "agent@example.com";

/// Waits until `condition` holds; fails the test after [`PATIENCE`].
fn eventually<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = condition() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(POLL);
    }
}

/// The gateway's configuration: it trusts the scene's owner, follows the service's
/// revocations, posts its receipts there, signs with `executor.pem` (the key whose DID
/// the agent invokes), and sends `/email/send` through the SMTP server.
fn gateway_config(scene: &Scene, port: u16, smtp_port: u16) -> String {
    format!(
        r#"
listen = "127.0.0.1:{port}"
data_dir = "gateway-data"
key = "executor.pem"
owners = ["{owner}"]

[service]
url = "{service}"

[[routes]]
command = "/email/send"

[routes.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
username = "{SMTP_USER}"
password = {{ env = "SMTP_PASSWORD" }}
from = "Agent <agent@example.com>"
timeout = "30s"
"#,
        owner = scene.owner,
        service = scene.service,
    )
}

/// `countersign gateway --config FILE`, logging at debug level, once its revocation view
/// is fresh.
fn start_gateway(scene: &Scene, config: &Path, port: u16) -> Spawned {
    let mut child = countersign()
        .args(["gateway", "--config"])
        .arg(config)
        .env("SMTP_PASSWORD", PASSWORD)
        .env("COUNTERSIGN_LOG", "debug")
        .current_dir(&scene.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut gateway = Spawned {
        out: Lines::new(child.stdout.take().unwrap()),
        err: Lines::new(child.stderr.take().unwrap()),
        child,
        what: "countersign gateway".into(),
    };
    let listening = gateway.out.wait_for("countersign gateway listening on ");
    assert_eq!(listening, format!("http://127.0.0.1:{port}"));
    eventually("the gateway's revocation view to be fresh", || {
        let (status, _) = http_get(port, "/healthz", None)?;
        (status == 200).then_some(())
    });
    gateway
}

/// The gateway's receipts in the service's audit log, once there are `n`.
fn receipts(scene: &Scene, n: usize) -> Vec<Json> {
    let owner_key = scene.owner_dir.join("owner.pem");
    eventually(&format!("{n} receipts in the audit log"), || {
        let (status, page) = scene.api_get(&owner_key, "/v1/audit?after=0");
        assert_eq!(status, 200, "{page}");
        let found: Vec<Json> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "gateway.receipt")
            .cloned()
            .collect();
        (found.len() >= n).then_some(found)
    })
}

#[test]
fn an_approved_email_is_sent_by_the_gateway_once_and_the_agent_never_sees_the_password() {
    let mut scene = Scene::prepare("gateway-flow");
    let Some(smtp) = SmtpServer::start(
        &scene.dir.join("mail"),
        SMTP_USER,
        PASSWORD,
        "the gateway flow test",
    ) else {
        return;
    };
    // The gateway's key: the audience of the agent's invocation, and the gateway whose
    // receipts the service accepts.
    let gateway_did = scene.executor();
    let accepted = gateway_did.clone();
    let (service, url) = InProcess::start(&scene.dir, scene.owner.parse().unwrap(), move |c| {
        c.gateways = vec![accepted];
    });
    scene._in_process = Some(service);
    scene.service = url;

    let port = free_port();
    let config = scene.dir.join("gateway.toml");
    std::fs::write(&config, gateway_config(&scene, port, smtp.port)).unwrap();
    let gateway = start_gateway(&scene, &config, port);
    let gateway_url = format!("http://127.0.0.1:{port}");
    let (_, info) = http_get(port, "/v1/gateway", None).unwrap();
    let info: Json = serde_json::from_str(&info).unwrap();
    assert_eq!(
        info["did"],
        gateway_did.as_str(),
        "the gateway signs as {info}"
    );

    // The agent asks, a device approves, the agent gets its chain.
    scene.add_agent("/email/send");
    scene.pair_device();
    let args = r#"{"to": "bob@example.com", "subject": "Quarterly report",
                   "text": "The numbers are in."}"#;
    let (request, id) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--summary",
        "Email Bob the quarterly report",
    ]);
    let approved = scene.ok_device(&["approve", &id]);
    assert!(
        approved.starts_with(&format!("approved {id}")),
        "{approved}"
    );
    let request = request.finish();
    assert_eq!(request.code, 0, "{}", request.stderr);
    let chain = request.stdout.clone();

    // The agent signs for the gateway and sends it there.
    let sent = scene.owner(&[
        "invoke",
        "--key",
        "agent.pem",
        "--to",
        &gateway_did,
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--proof",
        &chain,
        "--gateway",
        &gateway_url,
        "--output",
        "json",
    ]);
    assert_eq!(sent.code, 0, "{sent:?}");
    assert!(sent.stderr.is_empty(), "{sent:?}");
    let printed: Json = serde_json::from_str(&sent.stdout).unwrap();
    let cid = printed["cid"].as_str().unwrap();
    assert_eq!(printed["status"], 200, "{printed}");
    let answer = &printed["answer"];
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["invocation"], cid);
    assert_eq!(answer["route"], "/email/send");
    assert_eq!(answer["upstream"]["status"], 250, "{answer}");

    // The gateway answers after the relay accepted the message: it is there.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let mail = &messages[0];
    assert_eq!(mail["authenticated"], true);
    assert_eq!(mail["mail_from"], SMTP_USER);
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["bob@example.com"]));
    let data = mail["data"].as_str().unwrap();
    let header = |name: &str| {
        data.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
    };
    assert_eq!(header("From").as_deref(), Some("Agent <agent@example.com>"));
    assert_eq!(header("To").as_deref(), Some("bob@example.com"));
    assert_eq!(header("Subject").as_deref(), Some("Quarterly report"));
    let body = data
        .split_once("\r\n\r\n")
        .or_else(|| data.split_once("\n\n"));
    assert_eq!(
        body.map(|(_, b)| b.trim()),
        Some("The numbers are in."),
        "{data}"
    );

    // The same container again is a replay: refused, and nothing is sent.
    let container = printed["container"].as_str().unwrap();
    let replayed = scene.owner(&["invoke", "--signed", container, "--gateway", &gateway_url]);
    assert_eq!(replayed.code, 1, "{replayed:?}");
    assert!(replayed.stdout.is_empty(), "{replayed:?}");
    assert_eq!(replayed.stderr.lines().count(), 1, "{replayed:?}");
    assert!(
        replayed.stderr.starts_with("error: the gateway refused: "),
        "{replayed:?}"
    );
    assert!(replayed.stderr.contains(cid), "{replayed:?}");
    assert!(replayed.stderr.ends_with("(Replayed)"), "{replayed:?}");
    let again = scene.owner(&[
        "invoke",
        "--signed",
        container,
        "--gateway",
        &gateway_url,
        "--output",
        "json",
    ]);
    assert_eq!(again.code, 1, "{again:?}");
    let printed: Json = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(printed["cid"], cid);
    assert_eq!(printed["status"], 409);
    assert_eq!(printed["answer"]["error"]["kind"], "Replayed");
    assert_eq!(smtp.messages().len(), 1, "no second message");

    // The service has the gateway's receipts: the mail sent, then the replay refused.
    let receipts = receipts(&scene, 2);
    assert!(receipts.iter().all(|e| e["actor"] == gateway_did.as_str()));
    assert!(receipts.iter().all(|e| e["subject"] == cid));
    let by_outcome = |outcome: &str| {
        let found: Vec<&Json> = receipts
            .iter()
            .filter(|e| e["data"]["outcome"] == outcome)
            .collect();
        assert_eq!(found.len(), 1, "one {outcome} receipt in {receipts:?}");
        found[0].clone()
    };
    assert_eq!(by_outcome("ok")["data"]["status"], 250);
    assert_eq!(by_outcome("refused")["data"]["error"], "Replayed");

    // The password: in no output of the agent's commands, nor in the gateway's logs.
    let gateway = gateway.stop();
    assert!(
        gateway.stderr.contains("invocation executed"),
        "{}",
        gateway.stderr
    );
    let agent_saw = [&request, &sent, &replayed, &again]
        .iter()
        .map(|r| format!("{}\n{}", r.stdout, r.stderr))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!agent_saw.contains(PASSWORD), "{agent_saw}");
    assert!(!gateway.stdout.contains(PASSWORD));
    assert!(!gateway.stderr.contains(PASSWORD));
}

#[test]
fn an_unreachable_gateway_is_one_line_error() {
    let scene = Scene::prepare("gateway-down");
    let gateway = scene.executor();
    let port = free_port();
    let run = scene.owner(&[
        "invoke",
        "--key",
        "agent.pem",
        "--to",
        &gateway,
        "--cmd",
        "/email/send",
        "--gateway",
        &format!("http://127.0.0.1:{port}"),
    ]);
    crate::support::assert_one_line_error(
        &run,
        &format!("cannot reach the gateway at http://127.0.0.1:{port}"),
    );
    let bad = scene.owner(&["invoke", "--signed", "not a container", "--gateway", "x"]);
    crate::support::assert_one_line_error(&bad, "--signed");
    let unsent = scene.owner(&["invoke", "--signed", "x"]);
    assert_eq!(unsent.code, 2, "{unsent:?}");
    assert!(unsent.stderr.contains("--gateway"), "{unsent:?}");
}

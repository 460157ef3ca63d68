//! Email through a real SMTP server on loopback (Python's aiosmtpd), with AUTH: the
//! message arrives as approved, and the password shows up nowhere.

use crate::support::chain::{Call, approved, args, container, keys};
use crate::support::gateway::{Setup, TestGateway, assert_refused};
use crate::support::service::FakeService;
use crate::support::smtp::SmtpServer;
use crate::support::{TempDir, eventually, logs};

const PASSWORD: &str = "smtp-Pa55word-only-the-gateway-knows";
const POLICY: &str = r#"[["==", ".to", "bob@example.com"], ["==", ".cc", ["carol@example.com"]],
                        ["==", ".subject", "Quarterly report"]]"#;

fn routes(port: u16) -> String {
    format!(
        r#"
        [[routes]]
        command = "/email/send"
        [routes.smtp]
        host = "127.0.0.1"
        port = {port}
        tls = "none"
        username = "agent@example.com"
        password = {{ file = "{{dir}}/smtp-password" }}
        from = "Agent <agent@example.com>"
        timeout = "10s"
        "#
    )
}

#[tokio::test]
async fn an_email_arrives_as_approved_and_the_password_shows_nowhere() {
    let mail = TempDir::new("mail");
    let Some(smtp) = SmtpServer::start(mail.path(), "agent@example.com", PASSWORD, "the SMTP test")
    else {
        return;
    };
    let keys = keys();
    let service = FakeService::start(keys.service.did()).await;
    let setup = Setup::new(&service, &routes(smtp.port));
    std::fs::write(setup.path().join("smtp-password"), PASSWORD).unwrap();
    let gw = TestGateway::start(&setup).await;
    let proofs = approved(&keys, "/email/send", POLICY, None);
    let body = r#"{"to": "bob@example.com", "cc": ["carol@example.com"],
                   "subject": "Quarterly report", "text": "The numbers are in.",
                   "html": "<p>The numbers are <b>in</b>.</p>"}"#;
    let inv = Call::new(&keys, "/email/send", args(body)).sign(&proofs);
    let (status, answer) = gw.invoke(&container(&inv, &proofs)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["upstream"]["status"], 250);

    eventually("the message to arrive", || smtp.messages().len() == 1).await;
    let record = &smtp.messages()[0];
    assert_eq!(record["authenticated"], true);
    assert_eq!(record["mail_from"], "agent@example.com");
    assert_eq!(
        record["rcpt_tos"],
        serde_json::json!(["bob@example.com", "carol@example.com"])
    );
    let data = record["data"].as_str().unwrap();
    let header = |name: &str| {
        data.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
    };
    assert_eq!(header("From").as_deref(), Some("Agent <agent@example.com>"));
    assert_eq!(header("To").as_deref(), Some("bob@example.com"));
    assert_eq!(header("Cc").as_deref(), Some("carol@example.com"));
    assert_eq!(header("Subject").as_deref(), Some("Quarterly report"));
    assert!(header("Bcc").is_none());
    assert!(data.contains("The numbers are in."), "{data}");
    assert!(data.contains("<p>The numbers are <b>in</b>.</p>"), "{data}");

    service.wait_receipts(1).await;
    assert_eq!(service.receipts(&keys.gateway.did())[0].status, 250);
    assert!(!answer.to_string().contains(PASSWORD));
    assert!(!format!("{:?}", gw.gateway).contains(PASSWORD));
    assert!(!logs::text().contains(PASSWORD));
}

#[tokio::test]
async fn a_bcc_the_route_does_not_map_never_reaches_the_relay() {
    let keys = keys();
    let service = FakeService::start(keys.service.did()).await;
    // Nothing listens on port 1: had the gateway tried to send, it would have failed.
    let setup = Setup::new(&service, &routes(1));
    std::fs::write(setup.path().join("smtp-password"), PASSWORD).unwrap();
    let gw = TestGateway::start(&setup).await;
    let policy = r#"[["==", ".to", "bob@example.com"]]"#;
    let proofs = approved(&keys, "/email/send", policy, None);
    let body = r#"{"to": "bob@example.com", "subject": "hi", "text": "hello",
                   "bcc": "eve@example.com"}"#;
    let inv = Call::new(&keys, "/email/send", args(body)).sign(&proofs);
    let answer = gw.invoke(&container(&inv, &proofs)).await;
    assert_refused(&answer, 400, "InvalidArgs");
    assert!(
        answer.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bcc")
    );
}

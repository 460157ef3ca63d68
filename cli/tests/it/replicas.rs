//! Two `countersign serve` processes sharing one PostgreSQL database: an agent waiting on
//! one replica gets its chain when the approval lands on the other, and with one replica
//! killed, every pending notification is still delivered, each exactly once.
//! Runs when `COUNTERSIGN_TEST_DATABASE_URL` names a PostgreSQL server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use crate::postgres::TestDatabase;
use crate::support::{PATIENCE, POLL, Scene, Served, free_port};

/// A webhook receiver on loopback that counts the events it is sent.
struct Hook {
    url: String,
    events: Arc<Mutex<HashMap<String, usize>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let events = Arc::new(Mutex::new(HashMap::new()));
        let seen = events.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let (mut event, mut length) = (None, 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("countersign-event:") {
                        event = Some(v.trim().to_owned());
                    } else if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                if let Some(e) = event {
                    *seen.lock().unwrap().entry(e).or_insert(0) += 1;
                }
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Hook { url, events }
    }

    fn count(&self, event: &str) -> usize {
        self.events.lock().unwrap().get(event).copied().unwrap_or(0)
    }
}

#[test]
fn replicas_share_decisions_and_deliver_each_notification_once() {
    let Some(database) = TestDatabase::create("cs_replicas", "replicas") else {
        return;
    };
    let url = database.url();

    let hook = Hook::start();
    let mut scene = Scene::prepare("replicas");
    let (pa, pb) = (free_port(), free_port());
    let env = [
        ("COUNTERSIGN_DATABASE_URL", url.clone()),
        ("COUNTERSIGN_WEBHOOK__URL", hook.url.clone()),
        (
            "COUNTERSIGN_WEBHOOK_SECRET",
            "a-shared-webhook-secret".to_owned(),
        ),
        ("COUNTERSIGN_AGENTS__MAX_PENDING", "20".to_owned()),
    ];
    let (dir_a, dir_b) = (scene.dir.join("a"), scene.dir.join("b"));
    let a = Served::start_with(&scene, pa, &dir_a, &env);
    // Replicas share the service's keys.
    std::fs::create_dir_all(&dir_b).unwrap();
    for key in ["service.pem", "vapid.pem"] {
        std::fs::copy(dir_a.join(key), dir_b.join(key)).unwrap();
    }
    let b = Served::start_with(&scene, pb, &dir_b, &env);
    let (on_a, on_b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );

    scene.service = on_a.clone();
    scene.add_agent("/email/send");
    scene.pair_device();

    // The agent waits on B; the device approves on A.
    scene.service = on_b.clone();
    let (waiting, id) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "bob@example.com"}"#,
        "--summary",
        "Email Bob",
    ]);
    scene.service = on_a.clone();
    scene.ok_device(&["approve", &id]);
    let waited = waiting.finish();
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert!(
        waited.stdout.starts_with('B'),
        "a container: {}",
        waited.stdout
    );

    // More requests through both replicas; then A dies. B delivers what is left.
    let mut ids = Vec::new();
    for n in 0..6 {
        scene.service = if n % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let args = format!(r#"{{"to": "user{n}@example.com"}}"#);
        let summary = format!("Email user {n}");
        ids.push(scene.ok_owner(&[
            "request",
            "--key",
            "agent.pem",
            "--cmd",
            "/email/send",
            "--args",
            &args,
            "--summary",
            &summary,
        ]));
    }
    a.kill();
    let deadline = Instant::now() + PATIENCE;
    while ids
        .iter()
        .any(|id| hook.count(&format!("{id}.pending")) == 0)
    {
        assert!(
            Instant::now() < deadline,
            "not every pending notification arrived: {:?}",
            hook.events.lock().unwrap()
        );
        thread::sleep(POLL);
    }
    for id in ids.iter().chain([&id]) {
        assert_eq!(
            hook.count(&format!("{id}.pending")),
            1,
            "{id}: {:?}",
            hook.events.lock().unwrap()
        );
    }
    // The replica goes before its database.
    drop(b);
}

#[tokio::test]
async fn a_postgres_backup_restores_with_pg_dump() {
    use countersign_core::Keypair;
    use countersign_server::store::{Agent, open};
    let Some(live) = TestDatabase::create("cs_backup", "pg_dump backup") else {
        return;
    };
    let restored =
        TestDatabase::create_on(&live.base, &format!("cs_restored_{}", std::process::id()));
    let store = open(&live.url()).await.unwrap();
    let agent = Agent {
        name: "bot".into(),
        did: Keypair::from_seed(&[4; 32]).did(),
        allow: vec!["/payment".parse().unwrap()],
        max_pending: 5,
        rate_per_min: 20,
        created_at: 1_800_000_000,
    };
    store.add_agent(&agent, &[]).await.unwrap();
    let dump = std::env::temp_dir().join(format!("cs-backup-{}.dump", std::process::id()));
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(live.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--dbname"])
        .arg(restored.url())
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&dump);
    // The restored database opens (its migrations are recorded as applied) with the data.
    let back = open(&restored.url()).await.unwrap();
    assert_eq!(back.list_agents().await.unwrap(), vec![agent]);
    let (count, _) = back.audit_head().await.unwrap();
    assert_eq!(count, store.audit_head().await.unwrap().0);
    drop((store, back));
}

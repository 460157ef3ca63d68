//! The `countersign` binary as a user runs it: keys, delegate, invoke, verify, inspect,
//! and what bad input gets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).trim().to_owned(),
        stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    run
}

/// A scratch directory with owner, alice, bob and gateway keys.
struct Scene {
    dir: PathBuf,
    owner: String,
    alice: String,
    bob: String,
    gateway: String,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let dir =
            std::env::temp_dir().join(format!("countersign-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = |file: &str| {
            let r = run_in(&dir, &["key", "generate", "--out", file], None);
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout
        };
        Scene {
            owner: key("owner.pem"),
            alice: key("alice.pem"),
            bob: key("bob.pem"),
            gateway: key("gateway.pem"),
            dir,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(&self.dir, args, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        r.stdout
    }

    /// owner → alice (/payment, amount ≤ 100) → bob (/payment/refund, to = bob@…).
    fn chain(&self, alice_subject: Option<&str>) -> (String, String) {
        let d1 = self.ok(&[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            &self.alice,
            "--cmd",
            "/payment",
            "--policy",
            r#"[["<=", ".amount", 100]]"#,
            "--expires-in",
            "1h",
        ]);
        let mut args = vec![
            "delegate",
            "--key",
            "alice.pem",
            "--to",
            &self.bob,
            "--cmd",
            "/payment/refund",
            "--policy",
            r#"[["==", ".to", "bob@example.com"]]"#,
        ];
        match alice_subject {
            Some(s) => args.extend(["--subject", s]),
            None => args.push("--powerline"),
        }
        let d2 = self.ok(&args);
        (d1, d2)
    }

    fn invoke(&self, d1: &str, d2: &str, args: &str) -> String {
        self.ok(&[
            "invoke",
            "--key",
            "bob.pem",
            "--to",
            &self.gateway,
            "--cmd",
            "/payment/refund",
            "--args",
            args,
            "--proof",
            d2,
            "--proof",
            d1,
        ])
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn key_files_are_private_and_never_overwritten() {
    let s = Scene::new("keys");
    assert!(s.owner.starts_with("did:key:z6Mk"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.dir.join("owner.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(s.ok(&["key", "did", "owner.pem"]), s.owner);
    let again = s.run(&["key", "generate", "--out", "owner.pem"]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("refusing to overwrite"),
        "{}",
        again.stderr
    );
    assert_eq!(s.ok(&["key", "did", "owner.pem"]), s.owner);
}

#[test]
fn openssl_keys_are_accepted() {
    let s = Scene::new("openssl");
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEICB8/LcKuHj0b1+R8W6jdUYRdlaD0EJLiHhCdYSbmReq\n-----END PRIVATE KEY-----\n";
    std::fs::write(s.dir.join("openssl.pem"), pem).unwrap();
    let did = s.ok(&["key", "did", "openssl.pem"]);
    assert!(did.starts_with("did:key:z6Mk"));
}

#[test]
fn a_delegated_invocation_verifies_and_its_json_verdict_says_so() {
    let s = Scene::new("valid");
    let (d1, d2) = s.chain(Some(&s.owner.clone()));
    let inv = s.invoke(&d1, &d2, r#"{"amount": 50, "to": "bob@example.com"}"#);
    let r = s.run(&["verify", &inv]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.starts_with("valid:"));
    let json: serde_json::Value = serde_json::from_str(&s.ok(&[
        "verify",
        "--output",
        "json",
        "--audience",
        &s.gateway,
        &inv,
    ]))
    .unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["error"], serde_json::Value::Null);
}

#[test]
fn powerline_delegations_verify() {
    let s = Scene::new("powerline");
    let (d1, d2) = s.chain(None);
    let inv = s.invoke(&d1, &d2, r#"{"amount": 50, "to": "bob@example.com"}"#);
    assert_eq!(s.run(&["verify", &inv]).code, 0);
    let inspected: serde_json::Value =
        serde_json::from_str(&s.ok(&["inspect", "--output", "json", &d2])).unwrap();
    assert_eq!(inspected["tokens"][0]["sub"], serde_json::Value::Null);
}

fn verdict(s: &Scene, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["verify", "--output", "json"];
    all.extend_from_slice(args);
    let r = s.run(&all);
    (r.code, serde_json::from_str(&r.stdout).unwrap())
}

#[test]
fn invalid_invocations_exit_1_with_the_error_kind() {
    let s = Scene::new("invalid");
    let (d1, d2) = s.chain(Some(&s.owner.clone()));
    let over = s.invoke(&d1, &d2, r#"{"amount": 500, "to": "bob@example.com"}"#);
    let (code, v) = verdict(&s, &[&over]);
    assert_eq!(
        (code, v["valid"].clone(), v["error"].clone()),
        (1, false.into(), "MatchError".into())
    );
    assert!(v["message"].as_str().unwrap().contains(".amount"), "{v}");

    let ok = s.invoke(&d1, &d2, r#"{"amount": 5, "to": "bob@example.com"}"#);
    let (code, v) = verdict(&s, &["--now", "99999999999", &ok]);
    assert_eq!((code, v["error"].clone()), (1, "Expired".into()));
    let (code, v) = verdict(&s, &["--now", "1000", &ok]);
    assert_eq!(
        (code, v["error"].clone()),
        (0, serde_json::Value::Null),
        "no nbf: valid in the past"
    );
    let (code, v) = verdict(&s, &["--audience", &s.alice, &ok]);
    assert_eq!((code, v["error"].clone()), (1, "InvalidAudience".into()));

    // The invocation without its proofs.
    let bare = s.ok(&["inspect", "--output", "json", &ok]);
    let inv_cid =
        serde_json::from_str::<serde_json::Value>(&bare).unwrap()["tokens"][0]["cid"].clone();
    assert!(inv_cid.as_str().unwrap().starts_with("bafy"));
}

#[test]
fn missing_proofs_are_unavailable() {
    use countersign_core::container::{Container, ContainerLimits};
    let s = Scene::new("missing");
    let (d1, d2) = s.chain(Some(&s.owner.clone()));
    let inv = s.invoke(&d1, &d2, r#"{"amount": 5, "to": "bob@example.com"}"#);
    let full = Container::parse(inv.as_bytes(), &ContainerLimits::default()).unwrap();
    assert_eq!(full.len(), 3, "invocation and two proofs");
    let root = countersign_core::json::decode_base64(&d1).unwrap();
    let without_root =
        Container::new(full.tokens().iter().filter(|t| **t != root).cloned()).to_text();
    let (code, v) = verdict(&s, &[&without_root]);
    assert_eq!(
        (code, v["error"].clone()),
        (1, "UnavailableProof".into()),
        "{v}"
    );
}

#[test]
fn delegate_container_carries_its_proofs() {
    let s = Scene::new("container");
    let (d1, _) = s.chain(Some(&s.owner.clone()));
    let c = s.ok(&[
        "delegate",
        "--key",
        "alice.pem",
        "--to",
        &s.bob,
        "--subject",
        &s.owner,
        "--cmd",
        "/payment",
        "--container",
        "--proof",
        &d1,
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["inspect", "--output", "json", &c])).unwrap();
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t["signature_valid"] == true));
}

#[test]
fn inspect_reads_stdin_and_files() {
    let s = Scene::new("inspect");
    let (d1, _) = s.chain(Some(&s.owner.clone()));
    let r = run_in(&s.dir, &["inspect", "-"], Some(&d1));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("command    /payment"), "{}", r.stdout);
    assert!(r.stdout.contains("signature  valid"));
    std::fs::write(s.dir.join("d1.txt"), &d1).unwrap();
    assert!(s.ok(&["inspect", "d1.txt"]).contains(&s.owner));
}

#[test]
fn bad_input_gets_one_line_and_a_nonzero_exit() {
    let s = Scene::new("bad");
    let cases: &[&[&str]] = &[
        &["inspect", "garbage"],
        &["inspect", "glhAnotbase64!!"],
        &["key", "did", "missing.pem"],
        &[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            "did:web:example.com",
            "--cmd",
            "/a",
        ],
        &[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            &s.alice,
            "--cmd",
            "no-slash",
        ],
        &[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            &s.alice,
            "--cmd",
            "/a",
            "--policy",
            r#"[["~=", ".a", 1]]"#,
        ],
        &[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            &s.alice,
            "--cmd",
            "/a",
            "--expires-in",
            "10y",
        ],
        &[
            "delegate",
            "--key",
            "owner.pem",
            "--to",
            &s.alice,
            "--cmd",
            "/a",
            "--meta",
            "[1]",
        ],
        &[
            "invoke", "--key", "bob.pem", "--to", &s.gateway, "--cmd", "/a", "--args", "{",
            "--proof", "x",
        ],
        &["inspect", "--output", "yaml", "x"],
    ];
    for args in cases {
        let r = s.run(args);
        assert_ne!(r.code, 0, "{args:?} succeeded");
        assert!(!r.stderr.is_empty(), "{args:?}: no message");
        if !args.contains(&"--output")
            && !args.contains(&"no-slash")
            && !args.contains(&"did:web:example.com")
        {
            assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        }
    }
    let r = s.run(&["verify", "garbage"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.starts_with("invalid: MalformedToken"),
        "{}",
        r.stdout
    );
}

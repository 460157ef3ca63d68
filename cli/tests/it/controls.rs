//! The owner's controls against a service in this process: revocation, the kill switch,
//! the list of issued capabilities, the audit log (export, offline verification, tail),
//! auto-approval and quorum rules. Every client is the real `countersign` binary.

use std::process::Stdio;

use serde_json::Value as Json;

use crate::support::{Run, Scene, assert_one_line_error, line_after};

fn json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The agent asks for `args` under `cmd` without waiting; the request's id.
fn request(scene: &Scene, cmd: &str, args: &str) -> String {
    scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        cmd,
        "--args",
        args,
        "--summary",
        "Do it",
    ])
}

/// The issued capabilities, as `tokens list --output json` gives them.
fn tokens(scene: &Scene, extra: &[&str]) -> Vec<Json> {
    let mut args = vec!["tokens", "list", "--output", "json"];
    args.extend(extra);
    json(&scene.ok_owner(&args)).as_array().unwrap().clone()
}

#[test]
fn a_capability_revoked_by_cid_is_no_longer_live() {
    let scene = Scene::new("revoke");
    scene.add_agent("/email/send");
    scene.pair_device();
    let args = r#"{"to": "bob@example.com"}"#;
    let (waiting, id) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--summary",
        "Email Bob",
    ]);
    scene.ok_device(&["approve", &id]);
    let waiting = waiting.finish();
    assert_eq!(waiting.code, 0, "{}", waiting.stderr);
    let container = waiting.stdout;

    let live = tokens(&scene, &["--live"]);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["request_id"], id.as_str());
    assert_eq!(live[0]["agent"], "helper");
    let cid = live[0]["cid"].as_str().unwrap().to_owned();
    let table = scene.ok_owner(&["tokens", "list", "--agent", "helper", "--live"]);
    let mut rows = table.lines();
    assert!(rows.next().unwrap().starts_with("CID "), "{table}");
    let row = rows.next().unwrap();
    assert!(row.starts_with(&cid), "{table}");
    assert!(
        row.contains("helper") && row.contains("/email/send"),
        "{table}"
    );
    assert!(row.ends_with("live"), "{table}");

    // A container holds three tokens: which one is meant must be said.
    let several = scene.owner(&["revoke", &container]);
    assert_eq!(several.code, 2, "{several:?}");
    assert_eq!(several.stderr.lines().count(), 1, "{several:?}");
    assert!(several.stderr.contains("holds 3 tokens"), "{several:?}");
    assert_eq!(several.stdout.lines().count(), 3, "{several:?}");
    assert!(several.stdout.contains(&cid), "{several:?}");

    // Only an issuer in the chain, or the owner, may revoke it.
    scene.ok_owner(&["key", "generate", "--out", "outsider.pem"]);
    let outsider = scene.owner(&["revoke", &cid, "--key", "outsider.pem"]);
    assert_one_line_error(&outsider, "(forbidden)");
    assert!(tokens(&scene, &["--live"]).len() == 1);

    let revoked = scene.ok_owner(&["revoke", &cid, "--reason", "no longer needed"]);
    assert!(
        revoked.starts_with(&format!("revoked {cid} (revocation feed cursor ")),
        "{revoked}"
    );
    // The same CID in base58btc.
    let z = cid.parse::<countersign_core::Cid>().unwrap().to_base58();
    let again: Json = json(&scene.ok_owner(&["revoke", &z, "--output", "json"]));
    assert_eq!(again["already_revoked"], true, "{again}");
    assert_eq!(again["cid"], cid.as_str(), "{again}");

    assert!(tokens(&scene, &["--live"]).is_empty());
    let none = scene.ok_owner(&["tokens", "list", "--live"]);
    assert_eq!(none, "no live capabilities");
    let all = scene.ok_owner(&["tokens", "list"]);
    assert!(all.contains(&cid) && all.contains(" revoked 20"), "{all}");

    let (status, feed) = scene.api_get(&scene.owner_dir.join("owner.pem"), "/v1/revocations");
    assert_eq!(status, 200, "{feed}");
    let listed: Vec<&str> = feed["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cid"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&cid.as_str()), "{feed}");

    let bad = scene.owner(&["revoke", "bafynotacid"]);
    assert_one_line_error(&bad, "not a valid CID");
}

#[test]
fn the_kill_switch_cancels_waiting_requests_until_lifted() {
    let scene = Scene::new("kill");
    scene.add_agent("/email/send");
    scene.pair_device();
    let first = request(&scene, "/email/send", r#"{"to": "bob@example.com"}"#);
    scene.ok_device(&["approve", &first]);
    assert_eq!(tokens(&scene, &["--live"]).len(), 1);
    let (waiting, _) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "ana@example.com"}"#,
        "--summary",
        "Email Ana",
    ]);

    let killed = scene.ok_owner(&["kill", "--agent", "helper"]);
    assert!(
        killed.starts_with(
            "kill switch on for agent helper: 1 capability revoked, 1 pending request cancelled"
        ),
        "{killed}"
    );
    let waiting = waiting.finish();
    assert_eq!(waiting.code, 4, "{waiting:?}");
    assert!(waiting.stdout.is_empty(), "{waiting:?}");
    assert!(
        waiting
            .stderr
            .contains("cancelled: no capability was issued"),
        "{waiting:?}"
    );
    assert!(tokens(&scene, &["--live"]).is_empty());
    let refused = scene.owner(&[
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
    assert_one_line_error(&refused, "kill switch");

    let lifted = scene.ok_owner(&["kill", "--lift", "--agent", "helper"]);
    assert!(
        lifted.starts_with("kill switch lifted for agent helper"),
        "{lifted}"
    );
    let id = request(&scene, "/email/send", "{}");
    assert!(id.starts_with("req_"), "{id}");

    // Everyone at once, for machines; and the flags that make no sense.
    let all: Json = json(&scene.ok_owner(&["kill", "--all", "--output", "json"]));
    assert_eq!(all["tokens_revoked"], 0, "{all}");
    assert_eq!(all["requests_cancelled"], 1, "{all}");
    scene.ok_owner(&["kill", "--lift", "--all"]);
    request(&scene, "/email/send", r#"{"n": 1}"#);
    let neither = scene.owner(&["kill"]);
    assert_eq!(neither.code, 2, "{neither:?}");
    let unknown = scene.owner(&["kill", "--agent", "nobody"]);
    assert_one_line_error(&unknown, "(not_found)");
}

/// Runs `audit verify FILE` with extra arguments.
fn verify(scene: &Scene, file: &str, extra: &[&str]) -> Run {
    let mut args = vec!["audit", "verify", file];
    args.extend(extra);
    scene.owner(&args)
}

#[test]
fn an_audit_export_verifies_and_any_edit_is_named() {
    let scene = Scene::new("audit");
    scene.add_agent("/email/send");
    scene.pair_device();
    let id = request(&scene, "/email/send", r#"{"to": "bob@example.com"}"#);
    scene.ok_device(&["approve", &id]);
    request(&scene, "/email/send", r#"{"to": "ana@example.com"}"#);

    let exported = scene.ok_owner(&["audit", "export", "--out", "audit.jsonl"]);
    assert!(exported.starts_with("exported entries 1 to "), "{exported}");
    let path = scene.dir.join("audit.jsonl");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = json(lines[0]);
    assert_eq!(header["type"], "header");
    assert_eq!(header["format"], "countersign-audit-v1");
    let service = header["service"].as_str().unwrap().to_owned();
    let last = json(lines.last().unwrap());
    assert_eq!(
        last["type"], "checkpoint",
        "the export ends with a checkpoint"
    );
    let entries = lines.iter().filter(|l| json(l)["type"] == "entry").count();
    assert!(entries >= 5, "{text}");
    assert_eq!(last["count"], entries);

    let valid = verify(&scene, "audit.jsonl", &[]);
    assert_eq!(valid.code, 0, "{valid:?}");
    assert!(
        valid
            .stdout
            .starts_with(&format!("valid: {entries} entries (1 to {entries}), ")),
        "{valid:?}"
    );
    assert_eq!(
        line_after(&valid.stdout, "signed by: "),
        format!(
            "{service} (the service the file names; pass --service with the DID you trust to pin it)"
        )
    );
    let pinned = verify(&scene, "audit.jsonl", &["--service", &service]);
    assert_eq!(pinned.code, 0, "{pinned:?}");
    assert!(
        pinned
            .stdout
            .contains(&format!("signed by: {service} (as --service requires)")),
        "{pinned:?}"
    );
    let machine = json(&scene.ok_owner(&["audit", "verify", "audit.jsonl", "--output", "json"]));
    assert_eq!(machine["valid"], true);
    assert_eq!(machine["entries"], entries);
    assert_eq!(machine["service_from_file"], true);
    // From standard input.
    let piped = scene
        .command(&scene.owner_dir, &["audit", "verify", "-"])
        .stdin(Stdio::from(std::fs::File::open(&path).unwrap()))
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{piped:?}");

    // Another service's DID: not what signed.
    let other = verify(&scene, "audit.jsonl", &["--service", &scene.agent]);
    assert_eq!(other.code, 1, "{other:?}");
    assert!(other.stdout.starts_with("invalid: line 1: "), "{other:?}");

    let write = |name: &str, lines: &[String]| {
        std::fs::write(scene.dir.join(name), lines.join("\n") + "\n").unwrap();
    };
    let owned: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    // Entry 2 (line 3) says something else than what was hashed.
    let mut edited = owned.clone();
    let mut entry = json(&edited[2]);
    assert_eq!(entry["seq"], 2);
    entry["subject"] = Json::from("someone-else");
    edited[2] = entry.to_string();
    write("edited.jsonl", &edited);
    let run = verify(&scene, "edited.jsonl", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stdout,
        "invalid: line 3: entry 2: its content does not match its hash (it was edited)"
    );
    // Entry 2 deleted.
    let mut deleted = owned.clone();
    deleted.remove(2);
    write("deleted.jsonl", &deleted);
    let run = verify(&scene, "deleted.jsonl", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout
            .starts_with("invalid: line 3: entry 3 where entry 2 was expected"),
        "{run:?}"
    );
    // The last entry deleted: the checkpoint names more than there is.
    let mut cut = owned.clone();
    cut.remove(cut.len() - 2);
    write("cut.jsonl", &cut);
    let run = verify(&scene, "cut.jsonl", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("entries were deleted"), "{run:?}");
    // The checkpoint deleted: nothing the service signed covers the entries.
    let mut unsigned = owned.clone();
    unsigned.pop();
    write("unsigned.jsonl", &unsigned);
    let run = verify(&scene, "unsigned.jsonl", &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.starts_with("invalid: line 2: entries 1 to "),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("not covered by a checkpoint"),
        "{run:?}"
    );

    // A partial export to standard output, from entry 3 on.
    let since = scene.owner(&["audit", "export", "--since", "3"]);
    assert_eq!(since.code, 0, "{since:?}");
    assert!(
        since.stderr.starts_with("exported entries 4 to "),
        "{since:?}"
    );
    let first = json(since.stdout.lines().nth(1).unwrap());
    assert_eq!(first["seq"], 4, "{}", since.stdout);
    std::fs::write(scene.dir.join("since.jsonl"), &since.stdout).unwrap();
    let run = verify(&scene, "since.jsonl", &["--service", &service]);
    assert_eq!(run.code, 0, "{run:?}");

    let missing = verify(&scene, "no-such-file.jsonl", &[]);
    assert_one_line_error(&missing, "cannot read no-such-file.jsonl");
}

#[test]
fn auto_approval_issues_at_once_what_its_policy_covers() {
    let scene = Scene::new("auto");
    scene.add_agent("/email/send");
    // No device is paired: nobody could approve by hand.
    let added = scene.ok_owner(&[
        "auto-approve",
        "add",
        "--cmd",
        "/email/send",
        "--policy",
        r#"[["like", ".to", "*@example.com"]]"#,
        "--expires-in",
        "1h",
    ]);
    assert!(
        added.starts_with(
            r#"auto-approving /email/send where [["like",".to","*@example.com"]] until "#
        ),
        "{added}"
    );
    let cid = line_after(&added, "cid: ");
    let listed = scene.ok_owner(&["auto-approve", "list"]);
    assert!(listed.lines().nth(1).unwrap().starts_with(&cid), "{listed}");

    let args = r#"{"to": "ana@example.com", "subject": "Hi"}"#;
    let (waiting, _) = scene.request_waiting(&[
        "--cmd",
        "/email/send",
        "--args",
        args,
        "--summary",
        "Email Ana",
    ]);
    let waiting = waiting.finish();
    assert_eq!(waiting.code, 0, "{}", waiting.stderr);
    let container = waiting.stdout;
    let executor = scene.executor();
    let invocation = scene.invoke(&executor, "/email/send", args, &container);
    let verdict = scene.ok_owner(&["verify", &invocation, "--audience", &executor]);
    assert!(verdict.starts_with("valid: "), "{verdict}");
    let issued = tokens(&scene, &["--live"]);
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0]["kind"], "auto");

    // Outside the policy: left for a person.
    let created = json(&scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "eve@evil.test"}"#,
        "--summary",
        "Email Eve",
        "--expires-in",
        "1m",
        "--output",
        "json",
    ]));
    assert_eq!(created["state"], "pending", "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, view) = scene.api_get(
        &scene.owner_dir.join("owner.pem"),
        &format!("/v1/requests/{id}"),
    );
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], "pending", "{view}");

    let removed = scene.ok_owner(&["auto-approve", "remove", &cid]);
    assert!(
        removed.starts_with(&format!("removed auto-approval {cid}")),
        "{removed}"
    );
    assert!(
        scene
            .ok_owner(&["auto-approve", "list"])
            .starts_with("no auto-approvals"),
    );
    let after = json(&scene.ok_owner(&[
        "request",
        "--key",
        "agent.pem",
        "--cmd",
        "/email/send",
        "--args",
        r#"{"to": "ana@example.com", "subject": "Again"}"#,
        "--summary",
        "Email Ana again",
        "--output",
        "json",
    ]));
    assert_eq!(after["state"], "pending", "{after}");

    let not_owner = scene.owner(&["auto-approve", "list", "--key", "agent.pem"]);
    assert_one_line_error(&not_owner, "(forbidden)");
    let bad = scene.owner(&["auto-approve", "add", "--cmd", "/x", "--policy", "[1]"]);
    assert_one_line_error(&bad, "--policy");
}

#[test]
fn a_quorum_rule_needs_two_devices() {
    let scene = Scene::new("quorum");
    scene.add_agent("/payment");
    scene.pair_device();
    let second = scene.dir.join("device2");
    scene.pair_device_in(&second, "second terminal");

    let added = scene.ok_owner(&["quorum", "add", "--cmd", "/payment", "--approvals", "2"]);
    assert!(added.starts_with("added quorum rule quorum"), "{added}");
    assert!(added.ends_with(": /payment needs 2 approvals"), "{added}");
    let rule = added
        .strip_prefix("added quorum rule ")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let conditional = scene.ok_owner(&[
        "quorum",
        "add",
        "--cmd",
        "/payment/refund",
        "--when",
        r#"[[">", ".amount", 10000]]"#,
        "--approvals",
        "3",
    ]);
    assert!(
        conditional.ends_with(r#"needs 3 approvals when [[">",".amount",10000]]"#),
        "{conditional}"
    );
    let listed = scene.ok_owner(&["quorum", "list"]);
    assert!(
        listed.contains(&rule) && listed.contains("always"),
        "{listed}"
    );
    let rules = json(&scene.ok_owner(&["quorum", "list", "--output", "json"]));
    assert_eq!(rules.as_array().unwrap().len(), 2, "{rules}");

    let args = r#"{"order": "A-17", "amount": 4900}"#;
    let (waiting, id) = scene.request_waiting(&[
        "--cmd",
        "/payment/refund",
        "--args",
        args,
        "--summary",
        "Refund order A-17",
    ]);
    let counted = scene.ok_device(&["approve", &id]);
    assert!(
        counted.starts_with(&format!("counted {id}")) && counted.contains("another device"),
        "{counted}"
    );
    let twice = scene.device(&["approve", &id]);
    assert_one_line_error(&twice, "(already_approved)");
    let issued = scene.spawn(&second, &["approve", &id]).finish();
    assert_eq!(issued.code, 0, "{issued:?}");
    assert!(
        issued.stdout.starts_with(&format!("approved {id}")),
        "{issued:?}"
    );
    let waiting = waiting.finish();
    assert_eq!(waiting.code, 0, "{}", waiting.stderr);
    let executor = scene.executor();
    let invocation = scene.invoke(&executor, "/payment/refund", args, &waiting.stdout);
    let verdict = scene.ok_owner(&["verify", &invocation, "--audience", &executor]);
    assert!(verdict.starts_with("valid: "), "{verdict}");

    assert_eq!(
        scene.ok_owner(&["quorum", "remove", &rule]),
        format!("removed quorum rule {rule}")
    );
    let gone = scene.owner(&["quorum", "remove", &rule]);
    assert_one_line_error(&gone, "(not_found)");
    let one = scene.owner(&["quorum", "add", "--cmd", "/payment", "--approvals", "1"]);
    assert_one_line_error(&one, "between 2 and 10");
}

#[test]
fn audit_tail_prints_entries_as_they_are_written() {
    let scene = Scene::new("tail");
    scene.add_agent("/email/send");
    let mut tail = scene.spawn(&scene.owner_dir, &["audit", "tail"]);
    tail.err.wait_for("following the audit log after entry ");
    let id = request(&scene, "/email/send", r#"{"to": "bob@example.com"}"#);
    let line = tail
        .out
        .wait_until("a request.created line", |l| l.contains("request.created"));
    let fields: Vec<&str> = line.split("  ").collect();
    assert!(
        fields[0].starts_with("20") && fields[0].ends_with('Z'),
        "{line}"
    );
    assert!(fields[1].starts_with('#'), "{line}");
    assert_eq!(fields[2].trim(), "request.created", "{line}");
    assert!(fields[3].starts_with("did:key:…"), "{line}");
    assert_eq!(fields[4], id, "{line}");
    assert!(fields[5].contains("agent=helper"), "{line}");
    assert!(fields[5].contains("cmd=/email/send"), "{line}");
    let run = tail.stop();
    assert!(
        !run.stdout.contains("agent.added"),
        "only new entries: {run:?}"
    );

    // From the start, one JSON entry per line.
    let mut tail = scene.spawn(
        &scene.owner_dir,
        &["audit", "tail", "--after", "0", "--output", "json"],
    );
    let first = json(&tail.out.wait_until("an entry", |_| true));
    assert_eq!(first["seq"], 1, "{first}");
    assert_eq!(first["kind"], "agent.added", "{first}");
    assert_eq!(first["actor"], scene.owner.as_str(), "{first}");
    let created = json(&tail.out.wait_until("entry 2", |_| true));
    assert_eq!(created["kind"], "request.created", "{created}");
    tail.stop();

    let not_owner = scene.owner(&["audit", "tail", "--key", "agent.pem"]);
    assert_one_line_error(&not_owner, "(forbidden)");
}

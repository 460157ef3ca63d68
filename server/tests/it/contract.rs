//! The public contract: the OpenAPI document and the JSON Schemas of every body, committed
//! in `schemas/`. A change of the code that changes the contract fails here until the
//! files are regenerated (`UPDATE_SCHEMAS=1 cargo test -p countersign-server contract`)
//! and the diff reviewed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// Every file the contract consists of, by path relative to `schemas/`.
fn generate() -> BTreeMap<String, String> {
    let doc = countersign_server::api::openapi::document();
    let mut files = BTreeMap::new();
    files.insert("openapi.json".to_owned(), pretty(&doc));
    let components = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, schema) in components {
        let mut schema = relink(schema);
        if let Value::Object(map) = &mut schema {
            map.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            map.insert("$id".into(), json!(format!("{name}.schema.json")));
            map.insert("title".into(), json!(name));
        }
        files.insert(format!("json/{name}.schema.json"), pretty(&schema));
    }
    files
}

/// Points OpenAPI component references at the sibling schema files.
fn relink(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match (k.as_str(), &v) {
                    ("$ref", Value::String(r)) => {
                        let name = r.trim_start_matches("#/components/schemas/");
                        (k, json!(format!("{name}.schema.json")))
                    }
                    _ => (k, relink(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(relink).collect()),
        other => other,
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

fn committed() -> BTreeMap<String, String> {
    let dir = schemas_dir();
    let mut files = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("openapi.json")) {
        files.insert("openapi.json".to_owned(), text);
    }
    for entry in std::fs::read_dir(dir.join("json"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".schema.json") {
            files.insert(
                format!("json/{name}"),
                std::fs::read_to_string(entry.path()).unwrap(),
            );
        }
    }
    files
}

#[test]
fn committed_schemas_match_the_code() {
    let fresh = generate();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        let dir = schemas_dir();
        std::fs::create_dir_all(dir.join("json")).unwrap();
        for stale in committed().keys().filter(|k| !fresh.contains_key(*k)) {
            std::fs::remove_file(dir.join(stale)).unwrap();
        }
        for (path, text) in &fresh {
            std::fs::write(dir.join(path), text).unwrap();
        }
    }
    let on_disk = committed();
    let missing: Vec<_> = fresh.keys().filter(|k| !on_disk.contains_key(*k)).collect();
    let extra: Vec<_> = on_disk.keys().filter(|k| !fresh.contains_key(*k)).collect();
    let changed: Vec<_> = fresh
        .iter()
        .filter(|(k, v)| on_disk.get(*k).is_some_and(|d| d != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "the API contract drifted from schemas/: missing {missing:?}, extra {extra:?}, changed {changed:?}; \
         review and run UPDATE_SCHEMAS=1 cargo test -p countersign-server contract"
    );
}

#[test]
fn every_body_has_a_schema() {
    let doc = countersign_server::api::openapi::document();
    let names: Vec<&str> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for needed in [
        "NewRequest",
        "RequestView",
        "Created",
        "ApproveBody",
        "DenyBody",
        "NewAgent",
        "AgentView",
        "NewPairing",
        "PairingCreated",
        "Claim",
        "Claimed",
        "PairingView",
        "Confirm",
        "Confirmed",
        "DeviceView",
        "ServiceInfo",
        "ErrorBody",
    ] {
        assert!(names.contains(&needed), "no schema for {needed}: {names:?}");
    }
    // Every operation states who may call it, except the public ones: the service
    // description, the revocation feed, the Web Push (VAPID) public key, and the two whose
    // bodies carry their own signature (revocation records and gateway receipts).
    let public = [
        "/v1/service",
        "/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/revocations",
        "/v1/revocations/events",
        "/v1/receipts",
        "/v1/push/vapid",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(
                op.get("security").is_none(),
                public.contains(&path.as_str()),
                "{method} {path}"
            );
            // Query parameters are in the query.
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{}}}", p["name"].as_str().unwrap())),
                        "{method} {path}: {p}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = crate::support::TestApp::new().await;
    let (status, served) = app
        .call(axum::http::Method::GET, "/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, axum::http::StatusCode::OK);
    let text = std::fs::read_to_string(schemas_dir().join("openapi.json")).unwrap();
    assert_eq!(served, serde_json::from_str::<Value>(&text).unwrap());
}

//! The configuration's structure, its problems, and the shipped examples.

use std::path::Path;

use super::*;
use crate::config::template::FieldSource;
use crate::secret::SecretSource;

const OWNER: &str = "did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX";

fn parse(text: &str) -> Result<Config, Vec<String>> {
    Config::parse(text, Path::new("/etc/cs")).map_err(|p| p.0)
}

fn all_problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(config) => problems(&config, false),
        Err(problems) => problems,
    }
}

#[test]
fn the_examples_are_valid() {
    for (name, text) in EXAMPLES {
        assert_eq!(all_problems(text), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn the_stripe_example_maps_refunds_and_payment_intents() {
    let config = parse(EXAMPLES[0].1).unwrap();
    let refund = config.route("/payment/refund").unwrap();
    let http = refund.http.as_ref().unwrap();
    assert_eq!((http.method, http.body), (Method::Post, BodyFormat::Form));
    assert_eq!(http.url.as_str(), "https://api.stripe.com/v1/refunds");
    assert_eq!(
        http.auth,
        Some(HttpAuth::Bearer(SecretSource::Env(
            "STRIPE_SECRET_KEY".into()
        )))
    );
    let mapped: Vec<String> = refund.mapped_args().unwrap().into_iter().collect();
    assert_eq!(mapped, ["amount", "charge"]);
    let intent = config.route("/payment/intent/create").unwrap();
    assert_eq!(intent.quorum, Some(2));
    let mapped: Vec<String> = intent.mapped_args().unwrap().into_iter().collect();
    assert_eq!(mapped, ["amount", "currency", "customer"]);
    let email = parse(EXAMPLES[1].1).unwrap();
    let fields = &email.routes[0].http.as_ref().unwrap().fields;
    assert!(matches!(fields.get("from"), Some(FieldSource::Const(_))));
    assert_eq!(config.data_dir, Path::new("/var/lib/countersign-gateway"));
    assert_eq!(
        config.key,
        Path::new("/var/lib/countersign-gateway/gateway.pem")
    );
}

#[test]
fn every_problem_is_reported_on_its_own_line() {
    let text = format!(
        r#"
        data_dir = "d"
        owners = ["{OWNER}", "did:web:example.com"]
        colour = "blue"
        [service]
        url = "ftp://x"
        [checks]
        max_lifetime = "soon"
        [[routes]]
        command = "/payment/refund"
        [routes.http]
        method = "POST"
        url = "https://{{host}}/v1"
        [[routes]]
        command = "/email/send"
        [routes.smtp]
        host = "smtp.example.com"
        from = "agent@example.com"
        bcc = "spy@example.com"
        [[routes]]
        command = "/x"
        noop = {{}}
        "#
    );
    let problems = all_problems(&text);
    let expect = [
        "unknown key `colour`",
        "owners: ",
        "checks: ",
        "routes[0] (/payment/refund): ",
        "routes[1] (/email/send): unknown field `bcc`",
    ];
    for e in expect {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "{e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn meaning_is_checked_after_structure() {
    let text = format!(
        r#"
        data_dir = "d"
        owners = ["{OWNER}"]
        [service]
        url = "ftp://x"
        [[routes]]
        command = "/a"
        noop = {{}}
        [[routes]]
        command = "/a"
        quorum = 0
        [routes.http]
        method = "GET"
        url = "https://api.example.com/{{id}}"
        body = "json"
        fields = {{ x = ".x" }}
        headers = {{ Authorization = "Bearer oops" }}
        timeout = "2m"
        [[routes]]
        command = "/email/send"
        [routes.smtp]
        host = "smtp.example.com"
        tls = "none"
        username = "u"
        password = {{ env = "COUNTERSIGN_TEST_NO_SUCH_VARIABLE" }}
        from = "not an address"
        "#
    );
    let config = parse(&text).unwrap();
    let found = problems(&config, true);
    let expect = [
        "service.url",
        "routes[1] (/a): another route",
        "routes[1] (/a): quorum",
        "routes[1] (/a): a GET request has no body",
        "routes[1] (/a): http.headers: \"Authorization\"",
        "routes[1] (/a): http.timeout",
        "routes[2] (/email/send): smtp.from",
        "routes[2] (/email/send): smtp.tls = \"none\"",
        "routes[2] (/email/send): smtp.password: the environment variable COUNTERSIGN_TEST_NO_SUCH_VARIABLE is not set",
    ];
    for e in expect {
        assert!(
            found.iter().any(|p| p.starts_with(e)),
            "{e:?} in {found:#?}"
        );
    }
    assert!(!found.iter().any(|p| p.contains("oops")), "{found:#?}");
}

#[test]
fn credentials_are_never_written_inline() {
    let text = format!(
        r#"
        data_dir = "d"
        owners = ["{OWNER}"]
        [service]
        url = "http://127.0.0.1:8420"
        [[routes]]
        command = "/payment/refund"
        [routes.http]
        method = "POST"
        url = "https://api.example.com/v1/refunds"
        auth = {{ bearer = "sk_live_inline" }}
        "#
    );
    let problems = all_problems(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("{ env = \"NAME\" }"), "{problems:?}");
    assert!(!problems[0].contains("sk_live_inline"), "{problems:?}");
}

#[test]
fn syntax_errors_name_the_place_without_echoing_it() {
    let problems = all_problems("data_dir = \"d\"\nsecret = sk_live_x\n");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("line 2, column"), "{problems:?}");
    assert!(!problems[0].contains("sk_live_x"), "{problems:?}");
}

#[test]
fn relative_paths_follow_the_config_file() {
    let text = format!(
        r#"
        data_dir = "data"
        owners = ["{OWNER}"]
        [service]
        url = "http://127.0.0.1:8420"
        [[routes]]
        command = "/payment/refund"
        [routes.http]
        method = "POST"
        url = "https://api.example.com/v1/refunds"
        auth = {{ bearer = {{ file = "secrets/stripe" }} }}
        "#
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.data_dir, Path::new("/etc/cs/data"));
    assert_eq!(
        config.routes[0].credentials()[0].1,
        &SecretSource::File("/etc/cs/secrets/stripe".into())
    );
}

#[test]
fn connection_limits_have_defaults_and_bounds() {
    let text = |limits: &str| {
        format!(
            r#"
            data_dir = "d"
            owners = ["{OWNER}"]
            [service]
            url = "http://127.0.0.1:8420"
            [limits]
            {limits}
            [[routes]]
            command = "/a"
            noop = {{}}
            "#
        )
    };
    let config = parse(&text("")).unwrap();
    assert_eq!(config.limits.header_timeout, Secs(10));
    assert_eq!(config.limits.max_connections, 10_000);
    assert_eq!(all_problems(&text("")), Vec::<String>::new());
    let found = all_problems(&text("header_timeout = \"0s\""));
    assert_eq!(found, ["limits: \"0s\" is not a usable duration"]);
    let found = all_problems(&text("max_connections = 0"));
    assert_eq!(
        found,
        ["limits.max_connections: must be between 1 and 1000000, not 0"]
    );
    let found = all_problems(&text("max_connections = 2000000"));
    assert_eq!(
        found,
        ["limits.max_connections: must be between 1 and 1000000, not 2000000"]
    );
}

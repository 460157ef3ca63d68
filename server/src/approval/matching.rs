//! Number matching: the approver must pick, among several, the code the requester holds.

use sha2::{Digest, Sha256};

use crate::config::RequestsConfig;
use crate::store::Request;

/// The `meta` key of an approval carrying the code the approver picked.
pub const MATCH_META: &str = "countersign/match";

/// Whether this request needs number matching under the configuration.
pub fn required(config: &RequestsConfig, request: &Request) -> bool {
    config.number_matching_agents.contains(&request.agent_name)
        || config
            .number_matching
            .iter()
            .filter_map(|p| p.parse::<countersign_core::Command>().ok())
            .any(|prefix| prefix.proves(&request.command))
}

/// Three codes in ascending order, one of them the request's: the same for every fetch.
pub fn choices(request: &Request) -> Vec<String> {
    let digest = Sha256::digest(format!("countersign-match\0{}", request.id).as_bytes());
    let mut codes: Vec<u32> = request.code.parse().into_iter().collect();
    for b in digest.iter() {
        if codes.len() == 3 {
            break;
        }
        let decoy = 10 + u32::from(*b) % 90;
        if !codes.contains(&decoy) {
            codes.push(decoy);
        }
    }
    codes.sort_unstable();
    codes.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, code: &str) -> Request {
        let mut r = crate::store::tests_support::request();
        r.command = "/payment/refund".parse().unwrap();
        r.id = id.into();
        r.code = code.into();
        r
    }

    #[test]
    fn choices_hold_the_code_among_three_distinct_and_are_stable() {
        for (id, code) in [("req_a", "47"), ("req_b", "10"), ("req_c", "99")] {
            let r = request(id, code);
            let c = choices(&r);
            assert_eq!(c.len(), 3);
            assert!(c.contains(&code.to_owned()));
            assert!(c[0] < c[1] && c[1] < c[2], "{c:?}");
            assert_eq!(c, choices(&r));
        }
    }

    #[test]
    fn required_by_command_prefix_or_agent() {
        let r = request("req_a", "47");
        let mut config = RequestsConfig::default();
        assert!(!required(&config, &r));
        config.number_matching = vec!["/payment".into()];
        assert!(required(&config, &r));
        config.number_matching = vec!["/pay".into()];
        assert!(!required(&config, &r));
        config.number_matching_agents = vec![r.agent_name.clone()];
        assert!(required(&config, &r));
    }
}

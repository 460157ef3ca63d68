//! Short self-signed EdDSA JWTs: how agents, the owner's CLI and devices prove who calls.
//!
//! The caller signs `{iss: its DID, aud: the service DID, iat, exp, jti}` with its own key.
//! The signature is checked against the key in `iss`; time is checked against the
//! service's clock (not the library's), with a bounded skew and lifetime; the `jti` is then
//! consumed once by the caller of [`verify`].

use countersign_core::{Did, Keypair};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Longest accepted `jti`.
const MAX_JTI_LEN: usize = 128;
/// Longest accepted token text.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// What a signed statement is about (a denial names its request here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The reason a signed denial gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A verified token, before its `jti` is consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub did: Did,
    pub claims: Claims,
}

/// Time rules for accepting a token.
#[derive(Debug, Clone, Copy)]
pub struct TimeRules {
    pub now: i64,
    pub max_lifetime: i64,
    pub skew: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the authorization token is not a JWT")]
    Malformed,
    #[error("the token's issuer is not an Ed25519 did:key: {0}")]
    BadIssuer(String),
    #[error("the token's issuer key is not usable")]
    WeakKey,
    #[error("the token's signature does not verify against its issuer")]
    BadSignature,
    #[error("the token is for {0}, not for this service")]
    WrongAudience(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is issued in the future")]
    NotYetValid,
    #[error("the token lives longer than {0} seconds; use shorter-lived tokens")]
    TooLong(i64),
    #[error("the token's jti must be 1 to {MAX_JTI_LEN} characters")]
    BadJti,
}

/// Signs a token for `service` that lives `lifetime` seconds from `now`.
pub fn issue(
    key: &Keypair,
    service: &Did,
    now: i64,
    lifetime: i64,
    jti: String,
) -> anyhow::Result<String> {
    sign(
        key,
        &Claims {
            iss: key.did().to_string(),
            aud: service.to_string(),
            iat: now,
            exp: now + lifetime,
            jti,
            ..Claims::default()
        },
    )
}

/// Signs arbitrary claims (whose `iss` must be the key's DID).
pub fn sign(key: &Keypair, claims: &Claims) -> anyhow::Result<String> {
    let der = key.to_pkcs8_der()?;
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        claims,
        &EncodingKey::from_ed_der(&der),
    )?)
}

/// Claims beyond the standard ones, as a signed statement carries them.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// The claims of a signed statement: the standard ones and the rest.
#[derive(Deserialize)]
struct Statement {
    #[serde(flatten)]
    claims: Claims,
    #[serde(flatten)]
    extra: Extra,
}

/// Verifies a token's signature, audience and times; the caller consumes the `jti`.
pub fn verify(token: &str, service: &Did, rules: TimeRules) -> Result<Verified, JwtError> {
    verify_statement(token, service, rules, MAX_TOKEN_LEN).map(|(verified, _)| verified)
}

/// As [`verify`], for a signed statement that may be longer than a bearer token (a
/// gateway's batch of receipts): at most `max_len` bytes. Answers the claims beyond the
/// standard ones too, from the same decoding.
pub fn verify_statement(
    token: &str,
    service: &Did,
    rules: TimeRules,
    max_len: usize,
) -> Result<(Verified, Extra), JwtError> {
    if token.len() > max_len {
        return Err(JwtError::Malformed);
    }
    let unverified: Claims =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| JwtError::Malformed)?;
    let did: Did = unverified
        .iss
        .parse()
        .map_err(|e: countersign_core::did::DidError| JwtError::BadIssuer(e.to_string()))?;
    if did.is_weak() {
        return Err(JwtError::WeakKey);
    }
    let mut validation = Validation::new(Algorithm::EdDSA);
    // Time is checked below against the service's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_ed_der(did.public_key_bytes());
    let Statement { claims, extra } = jsonwebtoken::decode::<Statement>(token, &key, &validation)
        .map_err(|_| JwtError::BadSignature)?
        .claims;
    if claims.aud != service.to_string() {
        return Err(JwtError::WrongAudience(claims.aud));
    }
    check_times(&claims, rules)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(JwtError::BadJti);
    }
    Ok((Verified { did, claims }, extra))
}

fn check_times(claims: &Claims, r: TimeRules) -> Result<(), JwtError> {
    if claims.exp <= r.now - r.skew {
        return Err(JwtError::Expired);
    }
    if claims.iat > r.now + r.skew {
        return Err(JwtError::NotYetValid);
    }
    if claims.exp - claims.iat > r.max_lifetime || claims.exp > r.now + r.max_lifetime + r.skew {
        return Err(JwtError::TooLong(r.max_lifetime));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const RULES: TimeRules = TimeRules {
        now: NOW,
        max_lifetime: 300,
        skew: 30,
    };

    fn keys() -> (Keypair, Did) {
        (
            Keypair::from_seed(&[1; 32]),
            Keypair::from_seed(&[9; 32]).did(),
        )
    }

    #[test]
    fn a_fresh_token_verifies_with_its_issuer() {
        let (key, service) = keys();
        let token = issue(&key, &service, NOW, 60, "a".into()).unwrap();
        let v = verify(&token, &service, RULES).unwrap();
        assert_eq!(
            (v.did, v.claims.jti.as_str(), v.claims.exp),
            (key.did(), "a", NOW + 60)
        );
    }

    #[test]
    fn refuses_wrong_audience_time_and_lifetime() {
        let (key, service) = keys();
        let other = Keypair::from_seed(&[3; 32]).did();
        let t = |now, life| issue(&key, &service, now, life, "j".into()).unwrap();
        let for_other = issue(&key, &other, NOW, 60, "j".into()).unwrap();
        assert!(matches!(
            verify(&for_other, &service, RULES),
            Err(JwtError::WrongAudience(_))
        ));
        assert_eq!(
            verify(&t(NOW - 400, 300), &service, RULES),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify(&t(NOW + 120, 60), &service, RULES),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            verify(&t(NOW, 3600), &service, RULES),
            Err(JwtError::TooLong(300))
        );
        // Within the skew either way is fine.
        assert!(verify(&t(NOW + 20, 60), &service, RULES).is_ok());
    }

    #[test]
    fn refuses_a_token_signed_by_another_key() {
        let (key, service) = keys();
        let impostor = Keypair::from_seed(&[4; 32]);
        // Claims naming `key` as issuer, signed by the impostor.
        let claims = Claims {
            iss: key.did().to_string(),
            aud: service.to_string(),
            iat: NOW,
            exp: NOW + 60,
            jti: "x".into(),
            ..Claims::default()
        };
        let der = impostor.to_pkcs8_der().unwrap();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_der(&der),
        )
        .unwrap();
        assert_eq!(
            verify(&forged, &service, RULES),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn refuses_other_algorithms_and_garbage() {
        let (_, service) = keys();
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                iss: Keypair::from_seed(&[1; 32]).did().to_string(),
                aud: service.to_string(),
                iat: NOW,
                exp: NOW + 60,
                jti: "x".into(),
                ..Claims::default()
            },
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(verify(&hs, &service, RULES), Err(JwtError::BadSignature));
        assert_eq!(
            verify("not.a.jwt", &service, RULES),
            Err(JwtError::Malformed)
        );
        assert_eq!(
            verify(&"a".repeat(5000), &service, RULES),
            Err(JwtError::Malformed)
        );
    }
}

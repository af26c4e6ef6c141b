//! WAMP-CRA: signing the router's challenge with HMAC-SHA256, keyed by the secret or, when the
//! router sends a salt, by a PBKDF2 key derived from it (as Autobahn and Crossbar do).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::protocol::{Dict, Value, encode_base64};
use crate::{Error, Secret};

/// The most PBKDF2 iterations a router may ask for. Crossbar and Autobahn use 1000; a
/// router asking for billions would keep `connect()` busy for minutes, past its deadline.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The signature for a WAMP-CRA CHALLENGE's `extra`.
pub(crate) fn sign(secret: &Secret, extra: &Dict) -> Result<Secret, Error> {
    let challenge = extra
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::Authentication("WAMP-CRA challenge without a 'challenge' string".into())
        })?;
    let key = match extra.get("salt").and_then(Value::as_str) {
        Some(salt) => {
            let iterations = extra
                .get("iterations")
                .and_then(Value::as_u64)
                .unwrap_or(1000);
            let key_length = extra.get("keylen").and_then(Value::as_u64).unwrap_or(32);
            let (iterations, key_length) = match (
                u32::try_from(iterations),
                usize::try_from(key_length),
            ) {
                (Ok(i), Ok(k)) if (1..=MAX_ITERATIONS).contains(&i) && (1..=1024).contains(&k) => {
                    (i, k)
                }
                _ => {
                    return Err(Error::Authentication(format!(
                        "WAMP-CRA challenge with unusable iterations {iterations} or keylen {key_length}"
                    )));
                }
            };
            Secret::new(derive_key(secret.expose(), salt, iterations, key_length))
        }
        None => secret.clone(),
    };
    let signature = hmac_sha256(key.expose().as_bytes(), challenge.as_bytes());
    Ok(Secret::new(encode_base64(&signature)))
}

/// HMAC-SHA256, which WAMP-CRA and WAMP-SCRAM both sign with.
pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    keyed(key, message).finalize().into_bytes().into()
}

/// Whether `signature` is the HMAC-SHA256 of `message` under `key`, compared in constant time.
pub(super) fn verify_hmac_sha256(key: &[u8], message: &str, signature: &[u8]) -> bool {
    keyed(key, message.as_bytes())
        .verify_slice(signature)
        .is_ok()
}

fn keyed(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// PBKDF2-HMAC-SHA256 of the secret, base64-encoded: the salted key Autobahn's `derive_key`
/// computes.
fn derive_key(secret: &str, salt: &str, iterations: u32, key_length: usize) -> String {
    let mut key = vec![0u8; key_length];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut key);
    encode_base64(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(extra: &[(&str, Value)]) -> Dict {
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn signs_like_autobahn() {
        // Reference values computed with Python's hmac/hashlib, as autobahn.wamp.auth does.
        let extra = challenge(&[("challenge", Value::from("{\"nonce\": \"abc\"}"))]);
        let signature = sign(&Secret::new("secret123"), &extra).unwrap();
        assert_eq!(
            signature.expose(),
            "WQR53+XYwPMARXx0+/Rdo3ndPfrtxZcD8oRtfMCEhVI="
        );
    }

    #[test]
    fn derives_salted_keys_like_autobahn() {
        assert_eq!(
            derive_key("secret123", "salt123", 100, 16),
            "DpHHRlQ6UNULJlP9J8WkPw=="
        );
    }

    #[test]
    fn an_absurd_iteration_count_is_refused_at_once() {
        let extra = challenge(&[
            ("challenge", Value::from("c")),
            ("salt", Value::from("s")),
            ("iterations", Value::Integer(u32::MAX as i128)),
        ]);
        let started = std::time::Instant::now();
        assert!(matches!(
            sign(&Secret::new("x"), &extra),
            Err(Error::Authentication(_))
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn a_challenge_without_text_is_refused() {
        assert!(matches!(
            sign(&Secret::new("x"), &Dict::new()),
            Err(Error::Authentication(_))
        ));
    }
}

//! WAMP-SCRAM: a password login in which the password never crosses the wire and the router
//! proves, in WELCOME, that it knows the user's keys too (RFC 5802 with SHA-256, as RFC 7677).
//!
//! Two dialects exist. Crossbar.io and Autobahn call the method `scram` and differ from the
//! WAMP specification's `wamp-scram` in small ways, each of which changes every signature:
//!
//! | | `scram` (Crossbar, Autobahn) | `wamp-scram` (specification) |
//! |---|---|---|
//! | channel binding part of `AuthMessage` | `c=` | `c=biws` (base64 of `n,,`) |
//! | Argon2id key | the hash as unpadded base64 text | the hash's bytes |
//! | server signature in WELCOME | `authextra.scram_server_signature` | `authextra.verifier` |
//! | server nonce | starts with the client nonce's bytes | starts with its text |
//! | `,` and `=` in the authid | as they are | escaped as `=2C`, `=3D` |
//!
//! HELLO offers both; the router's CHALLENGE names the dialect it speaks. PBKDF2 is the same
//! in both (HMAC-SHA256 over the base64-decoded salt, 32 bytes): Autobahn's client cannot
//! compute it, so there is no other reference.
//!
//! A hostile router chooses the key derivation's cost, so it is bounded: a login never takes
//! more than a few seconds of CPU or 256 MiB of memory, whatever the CHALLENGE asks.

use sha2::{Digest, Sha256};

use super::cra::{hmac_sha256, verify_hmac_sha256};
use crate::protocol::{Dict, Value, decode_base64, encode_base64};
use crate::{Error, Secret};

/// The most PBKDF2 iterations a router may ask for: about a second of one core.
const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
/// The most memory Argon2id may use, in KiB (256 MiB).
const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
/// The most Argon2id work, in KiB of memory times passes (4 GiB processed: a few seconds).
/// Autobahn's `derive_scram_credential` uses 512 KiB × 4096 passes, half of this.
const MAX_ARGON2_WORK: u64 = 4 * 1024 * 1024;

/// The two variants of the method; see the module's documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Crossbar,
    Specification,
}

/// One SCRAM login: the client nonce sent in HELLO, then what WELCOME must prove.
pub(crate) struct ScramLogin {
    authid: String,
    password: Secret,
    client_nonce: String,
    /// Set once the CHALLENGE is answered: the server key and the message whose signature
    /// WELCOME must carry.
    expected: Option<(Dialect, [u8; 32], String)>,
}

impl ScramLogin {
    /// A login with a fresh random client nonce.
    pub fn new(authid: &str, password: &Secret) -> Result<ScramLogin, Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| {
            Error::Authentication(format!("no random numbers for the SCRAM nonce: {e}"))
        })?;
        Ok(ScramLogin::with_nonce(
            authid,
            password,
            &encode_base64(&nonce),
        ))
    }

    fn with_nonce(authid: &str, password: &Secret, client_nonce: &str) -> ScramLogin {
        ScramLogin {
            authid: authid.to_owned(),
            password: password.clone(),
            client_nonce: client_nonce.to_owned(),
            expected: None,
        }
    }

    /// HELLO's `authextra`.
    pub fn hello_extra(&self) -> Dict {
        let mut extra = Dict::new();
        extra.insert("nonce".into(), Value::String(self.client_nonce.clone()));
        extra.insert("channel_binding".into(), Value::Null);
        extra
    }

    /// The AUTHENTICATE signature (the client proof) and extra for the CHALLENGE of `method`.
    pub fn answer(&mut self, method: &str, extra: &Dict) -> Result<(Secret, Dict), Error> {
        let dialect = match method {
            "scram" => Dialect::Crossbar,
            _ => Dialect::Specification,
        };
        let text = |name: &str| {
            extra.get(name).and_then(Value::as_str).ok_or_else(|| {
                Error::Authentication(format!("SCRAM challenge without a '{name}' string"))
            })
        };
        let server_nonce = text("nonce")?;
        let salt = text("salt")?;
        let kdf = text("kdf")?;
        match extra.get("channel_binding") {
            None | Some(Value::Null) => {}
            Some(other) => {
                return Err(Error::Authentication(format!(
                    "the router asked for SCRAM channel binding {other}, which this client does \
                     not support"
                )));
            }
        }
        let iterations = extra
            .get("iterations")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .filter(|&i| i > 0)
            .ok_or_else(|| {
                Error::Authentication("SCRAM challenge without usable 'iterations'".into())
            })?;
        if !self.nonce_extends_ours(dialect, server_nonce) {
            return Err(Error::Authentication(
                "the router's SCRAM nonce does not extend ours: refusing a replayed or forged \
                 challenge"
                    .into(),
            ));
        }
        let salt_bytes = decode_base64(salt)
            .ok_or_else(|| Error::Authentication("SCRAM salt is not base64".into()))?;
        let salted_password = match kdf {
            "argon2id-13" | "argon2id13" => {
                let memory = extra
                    .get("memory")
                    .and_then(Value::as_u64)
                    .and_then(|m| u32::try_from(m).ok())
                    .ok_or_else(|| {
                        Error::Authentication("SCRAM Argon2id challenge without 'memory'".into())
                    })?;
                argon2id(
                    self.password.expose(),
                    &salt_bytes,
                    iterations,
                    memory,
                    dialect,
                )?
            }
            "pbkdf2" => pbkdf2(self.password.expose(), &salt_bytes, iterations)?,
            other => {
                return Err(Error::Authentication(format!(
                    "the router asked for SCRAM key derivation '{other}'; this client knows \
                     argon2id-13 and pbkdf2"
                )));
            }
        };
        let auth_message = format!(
            "n={},r={},r={server_nonce},s={salt},i={iterations},c={},r={server_nonce}",
            self.escaped_authid(dialect),
            self.client_nonce,
            match dialect {
                Dialect::Crossbar => "",
                Dialect::Specification => "biws",
            },
        );
        let client_key = hmac_sha256(&salted_password, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let client_signature = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature)
            .map(|(key, signature)| key ^ signature)
            .collect();
        let server_key = hmac_sha256(&salted_password, b"Server Key");
        self.expected = Some((dialect, server_key, auth_message));

        let mut reply = Dict::new();
        reply.insert("nonce".into(), Value::from(server_nonce));
        reply.insert("channel_binding".into(), Value::Null);
        reply.insert("cbind_data".into(), Value::Null);
        Ok((Secret::new(encode_base64(&proof)), reply))
    }

    /// Checks that WELCOME proves the router holds the user's server key (mutual
    /// authentication): a router that merely accepted anyone is not trusted with the session.
    pub fn verify_welcome(&self, details: &Dict) -> Result<(), Error> {
        let Some((dialect, server_key, auth_message)) = &self.expected else {
            return Err(Error::Authentication(
                "the router welcomed a SCRAM login without challenging it".into(),
            ));
        };
        let authextra = details.get("authextra").and_then(Value::as_dict);
        let field = match dialect {
            Dialect::Crossbar => "scram_server_signature",
            Dialect::Specification => "verifier",
        };
        let claimed = authextra
            .and_then(|extra| extra.get(field))
            .and_then(Value::as_str)
            .map(|s| s.strip_prefix("v=").unwrap_or(s))
            .and_then(decode_base64);
        match claimed {
            Some(signature) if verify_hmac_sha256(server_key, auth_message, &signature) => Ok(()),
            Some(_) => Err(Error::Authentication(
                "the router's SCRAM server signature is wrong: it does not know this user's \
                 keys, so the session was not trusted"
                    .into(),
            )),
            None => Err(Error::Authentication(format!(
                "the router's WELCOME has no SCRAM server signature (authextra.{field}), so it \
                 could not be authenticated"
            ))),
        }
    }

    fn nonce_extends_ours(&self, dialect: Dialect, server_nonce: &str) -> bool {
        match dialect {
            Dialect::Specification => {
                server_nonce.len() > self.client_nonce.len()
                    && server_nonce.starts_with(&self.client_nonce)
            }
            // Crossbar appends bytes to our nonce's bytes and encodes the whole again.
            Dialect::Crossbar => match (
                decode_base64(server_nonce),
                decode_base64(&self.client_nonce),
            ) {
                (Some(server), Some(client)) => {
                    server.len() > client.len() && server.starts_with(&client)
                }
                _ => false,
            },
        }
    }

    fn escaped_authid(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Crossbar => self.authid.clone(),
            Dialect::Specification => self.authid.replace('=', "=3D").replace(',', "=2C"),
        }
    }
}

fn pbkdf2(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>, Error> {
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(Error::Authentication(format!(
            "the router asked for {iterations} PBKDF2 iterations; this client allows at most \
             {MAX_PBKDF2_ITERATIONS}"
        )));
    }
    let mut key = vec![0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut key);
    Ok(key)
}

fn argon2id(
    password: &str,
    salt: &[u8],
    iterations: u32,
    memory_kib: u32,
    dialect: Dialect,
) -> Result<Vec<u8>, Error> {
    if memory_kib > MAX_ARGON2_MEMORY_KIB
        || u64::from(memory_kib) * u64::from(iterations) > MAX_ARGON2_WORK
    {
        return Err(Error::Authentication(format!(
            "the router asked for Argon2id with {memory_kib} KiB and {iterations} passes; this \
             client allows at most {MAX_ARGON2_MEMORY_KIB} KiB and {MAX_ARGON2_WORK} KiB × passes"
        )));
    }
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(32))
        .map_err(|e| Error::Authentication(format!("unusable SCRAM Argon2id parameters: {e}")))?;
    let mut hash = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut hash)
        .map_err(|e| Error::Authentication(format!("SCRAM Argon2id failed: {e}")))?;
    Ok(match dialect {
        Dialect::Specification => hash.to_vec(),
        // Autobahn keys the HMACs with the hash as it appears in Argon2's PHC string.
        Dialect::Crossbar => encode_base64(&hash)
            .trim_end_matches('=')
            .as_bytes()
            .to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(entries: &[(&str, Value)]) -> Dict {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    /// RFC 7677's SCRAM-SHA-256 example, which the WAMP specification's own example repeats.
    #[test]
    fn specification_dialect_matches_rfc7677() {
        let mut login =
            ScramLogin::with_nonce("user", &Secret::new("pencil"), "rOprNGfwEbeRWgbNEkqO");
        let server_nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let challenge = dict(&[
            ("nonce", Value::from(server_nonce)),
            ("salt", Value::from("W22ZaJ0SNY7soEsUEjb6gQ==")),
            ("kdf", Value::from("pbkdf2")),
            ("iterations", Value::from(4096)),
            ("memory", Value::Null),
        ]);
        let (proof, extra) = login.answer("wamp-scram", &challenge).unwrap();
        assert_eq!(
            proof.expose(),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(extra["nonce"], Value::from(server_nonce));
        let welcome = |verifier: &str| {
            dict(&[(
                "authextra",
                Value::Dict(dict(&[("verifier", Value::from(verifier))])),
            )])
        };
        login
            .verify_welcome(&welcome("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
            .unwrap();
        let forged =
            login.verify_welcome(&welcome("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
        assert!(matches!(forged, Err(Error::Authentication(_))));
        assert!(login.verify_welcome(&Dict::new()).is_err());
    }

    /// The Crossbar dialect, against values computed with Crossbar's server code and
    /// Autobahn's `_hash_argon2id13_secret` (argon2-cffi) in the test router's venv.
    #[test]
    fn crossbar_dialect_matches_autobahn_argon2() {
        let client_nonce = "AAECAwQFBgcICQoLDA0ODw==";
        let server_nonce = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let mut login = ScramLogin::with_nonce("scram-user", &Secret::new("secret"), client_nonce);
        let challenge = dict(&[
            ("nonce", Value::from(server_nonce)),
            ("salt", Value::from("c2FsdHNhbHRzYWx0c2FsdA==")),
            ("kdf", Value::from("argon2id-13")),
            ("iterations", Value::from(2)),
            ("memory", Value::from(64)),
        ]);
        let (proof, _) = login.answer("scram", &challenge).unwrap();
        assert_eq!(proof.expose(), CROSSBAR_ARGON2_PROOF);
        let welcome = dict(&[(
            "authextra",
            Value::Dict(dict(&[(
                "scram_server_signature",
                Value::from(CROSSBAR_ARGON2_SERVER_SIGNATURE),
            )])),
        )]);
        login.verify_welcome(&welcome).unwrap();
    }

    const CROSSBAR_ARGON2_PROOF: &str = "kS4xlwYDCpAyo4FprNyi8LAoCPgn0PnoA8bX2whGI40=";
    const CROSSBAR_ARGON2_SERVER_SIGNATURE: &str = "3+rxwobWQJ6p4oY7dI0OaYKZqfY57mVP3arnmCF5MAY=";

    #[test]
    fn hostile_challenges_are_refused_before_any_work() {
        let nonce = "AAECAwQFBgcICQoLDA0ODw==";
        let extended = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let base = [
            ("nonce", Value::from(extended)),
            ("salt", Value::from("c2FsdHNhbHRzYWx0c2FsdA==")),
            ("kdf", Value::from("argon2id-13")),
            ("iterations", Value::from(1)),
            ("memory", Value::from(64)),
        ];
        let with = |overrides: &[(&str, Value)]| {
            let mut extra = dict(&base);
            for (key, value) in overrides {
                extra.insert((*key).to_owned(), value.clone());
            }
            extra
        };
        let cases = [
            with(&[("memory", Value::from(u64::from(MAX_ARGON2_MEMORY_KIB) + 1))]),
            with(&[("iterations", Value::from(1_000_000))]),
            with(&[("kdf", Value::from("scrypt"))]),
            with(&[
                ("kdf", Value::from("pbkdf2")),
                (
                    "iterations",
                    Value::from(u64::from(MAX_PBKDF2_ITERATIONS) + 1),
                ),
            ]),
            with(&[
                ("kdf", Value::from("pbkdf2")),
                ("iterations", Value::from(u64::MAX)),
            ]),
            with(&[("nonce", Value::from("c29tZW9uZSBlbHNlJ3Mgbm9uY2U="))]),
            with(&[("nonce", Value::from(nonce))]),
            with(&[("salt", Value::from("not base64!"))]),
            with(&[("channel_binding", Value::from("tls-unique"))]),
            with(&[("iterations", Value::from(0))]),
            dict(&[]),
        ];
        for extra in cases {
            let mut login = ScramLogin::with_nonce("u", &Secret::new("p"), nonce);
            let started = std::time::Instant::now();
            let err = login.answer("scram", &extra).unwrap_err();
            assert!(matches!(err, Error::Authentication(_)), "{err}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{extra:?}"
            );
        }
    }

    #[test]
    fn nonces_are_fresh_base64() {
        let a = ScramLogin::new("u", &Secret::new("p")).unwrap();
        let b = ScramLogin::new("u", &Secret::new("p")).unwrap();
        assert_ne!(a.client_nonce, b.client_nonce);
        assert_eq!(decode_base64(&a.client_nonce).unwrap().len(), 16);
    }
}

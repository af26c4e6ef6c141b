//! WAMP-Cryptosign: the client proves it holds an Ed25519 private key by signing the router's
//! random challenge. The key comes from a hex seed or from a file in one of the formats that
//! Autobahn and Crossbar write.

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signer, SigningKey};

use crate::Error;
use crate::protocol::{Dict, Value};

/// An Ed25519 private key for WAMP-Cryptosign logins.
///
/// Its `Debug` shows only the public key, so the key can sit in any configuration struct
/// without reaching a log line. The key's bytes are wiped from memory when it is dropped.
///
/// ```
/// use izaber_wamp::CryptosignKey;
/// let key = CryptosignKey::from_hex_seed(
///     "4d0f3c3a1b2e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef",
/// )?;
/// assert_eq!(key.public_key_hex().len(), 64);
/// assert!(!format!("{key:?}").contains("4d0f3c3a"));
/// # Ok::<(), izaber_wamp::Error>(())
/// ```
#[derive(Clone)]
pub struct CryptosignKey {
    key: SigningKey,
}

impl CryptosignKey {
    /// The key whose 32-byte seed is `seed_hex` (64 hex digits): the form Autobahn's
    /// `SigningKey.from_key_bytes` and Crossbar's `privkey` settings take.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when `seed_hex` is not 64 hex digits. The message never
    /// contains the seed.
    pub fn from_hex_seed(seed_hex: &str) -> Result<CryptosignKey, Error> {
        let seed = decode_hex(seed_hex.trim())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "a WAMP-Cryptosign private key seed must be 64 hex digits (32 bytes)".into(),
                )
            })?;
        Ok(CryptosignKey::from_seed(&seed))
    }

    /// The key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> CryptosignKey {
        CryptosignKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Reads a private key file in any of the formats Autobahn and Crossbar use:
    /// - an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`, as `ssh-keygen -t
    ///   ed25519` writes and Autobahn's `SigningKey.from_ssh_file` reads), unencrypted;
    /// - Crossbar's key file (`.crossbar/key.priv`), whose `private-key-ed25519:` line holds
    ///   the seed in hex;
    /// - a file holding only the seed, as 64 hex digits or as 32 raw bytes (Autobahn's
    ///   `SigningKey.from_raw_key`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, and [`Error::InvalidArgument`] when it is
    /// none of these formats, is an encrypted OpenSSH key, holds a key that is not Ed25519, or
    /// states a public key that does not belong to its private key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<CryptosignKey, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("reading the key file {}", path.display()), e))?;
        parse_key_file(&bytes).map_err(|reason| {
            Error::InvalidArgument(format!("key file {}: {reason}", path.display()))
        })
    }

    /// The public key in hex (64 digits): what the router's `authorized_keys` lists.
    pub fn public_key_hex(&self) -> String {
        encode_hex(self.key.verifying_key().as_bytes())
    }
}

impl fmt::Debug for CryptosignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptosignKey")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

/// What HELLO's `authextra` carries: our public key, and no channel binding (see
/// [`sign`]).
pub(crate) fn hello_extra(key: &CryptosignKey) -> Dict {
    let mut extra = Dict::new();
    extra.insert("pubkey".into(), Value::String(key.public_key_hex()));
    extra.insert("channel_binding".into(), Value::Null);
    extra
}

/// The AUTHENTICATE signature for a CHALLENGE's `extra`: the Ed25519 signature of the
/// 32-byte challenge followed by the challenge itself, in hex (Crossbar checks both).
///
/// Channel binding (`tls-unique`) would XOR the challenge with the TLS channel's id, but
/// native-tls does not expose that id, and under TLS 1.3, which Crossbar now requires,
/// `tls-unique` is not defined at all. So HELLO asks for none, and a router that asks for it
/// anyway is refused here rather than answered with a signature it would reject.
pub(crate) fn sign(key: &CryptosignKey, extra: &Dict) -> Result<String, Error> {
    match extra.get("channel_binding") {
        None | Some(Value::Null) => {}
        Some(other) => {
            return Err(Error::Authentication(format!(
                "the router asked for WAMP-Cryptosign channel binding {other}, which this client \
                 does not support"
            )));
        }
    }
    let challenge = extra
        .get("challenge")
        .and_then(Value::as_str)
        .and_then(decode_hex)
        .filter(|challenge| challenge.len() == 32)
        .ok_or_else(|| {
            Error::Authentication(
                "WAMP-Cryptosign challenge without a 'challenge' of 32 bytes in hex".into(),
            )
        })?;
    let signature = key.key.sign(&challenge);
    let mut signed = encode_hex(&signature.to_bytes());
    signed.push_str(&encode_hex(&challenge));
    Ok(signed)
}

fn parse_key_file(bytes: &[u8]) -> Result<CryptosignKey, String> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let trimmed = text.trim();
        if trimmed.starts_with(OPENSSH_BEGIN) {
            return parse_openssh(trimmed);
        }
        if let Some(key) = parse_crossbar(text)? {
            return Ok(key);
        }
        if let Some(seed) = decode_hex(trimmed).and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            return Ok(CryptosignKey::from_seed(&seed));
        }
    }
    if let Ok(seed) = <[u8; 32]>::try_from(bytes) {
        return Ok(CryptosignKey::from_seed(&seed));
    }
    Err(
        "not an OpenSSH Ed25519 private key, a Crossbar key file (private-key-ed25519: ...), \
         64 hex digits, or 32 raw bytes"
            .into(),
    )
}

/// Crossbar's `key.priv`: `tag: value` lines (and comments), the seed under
/// `private-key-ed25519`. `None` when the text has no such line.
fn parse_crossbar(text: &str) -> Result<Option<CryptosignKey>, String> {
    let tag = |name: &str| {
        text.lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
    };
    let Some(private) = tag("private-key-ed25519") else {
        return Ok(None);
    };
    let seed = decode_hex(&private)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or("its private-key-ed25519 is not 64 hex digits")?;
    let key = CryptosignKey::from_seed(&seed);
    if let Some(public) = tag("public-key-ed25519")
        && !public.eq_ignore_ascii_case(&key.public_key_hex())
    {
        return Err("its public-key-ed25519 does not belong to its private key".into());
    }
    Ok(Some(key))
}

const OPENSSH_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END: &str = "-----END OPENSSH PRIVATE KEY-----";

/// The unencrypted `openssh-key-v1` format (OpenSSH's PROTOCOL.key): a header naming the
/// cipher and KDF, the public keys, then a private section with the Ed25519 key as the seed
/// followed by the public key.
fn parse_openssh(text: &str) -> Result<CryptosignKey, String> {
    let body: String = text
        .strip_prefix(OPENSSH_BEGIN)
        .and_then(|rest| rest.trim_end().strip_suffix(OPENSSH_END))
        .ok_or("an OpenSSH key without its END line")?
        .split_whitespace()
        .collect();
    let blob = crate::protocol::decode_base64(&body).ok_or("its OpenSSH body is not base64")?;
    let mut reader = SshReader(&blob);
    let malformed = || "a malformed OpenSSH key".to_owned();
    if reader.take(15).ok_or_else(malformed)? != b"openssh-key-v1\0" {
        return Err("not an openssh-key-v1 key".into());
    }
    let cipher = reader.string().ok_or_else(malformed)?;
    let kdf = reader.string().ok_or_else(malformed)?;
    if cipher != b"none" || kdf != b"none" {
        return Err(
            "an encrypted OpenSSH key; remove its passphrase with `ssh-keygen -p -f FILE`".into(),
        );
    }
    reader.string().ok_or_else(malformed)?; // KDF options: empty when unencrypted
    if reader.u32().ok_or_else(malformed)? != 1 {
        return Err("an OpenSSH file with more than one key".into());
    }
    reader.string().ok_or_else(malformed)?; // the public key, repeated in the private section
    let mut private = SshReader(reader.string().ok_or_else(malformed)?);
    let (check1, check2) = (
        private.u32().ok_or_else(malformed)?,
        private.u32().ok_or_else(malformed)?,
    );
    if check1 != check2 {
        return Err(malformed());
    }
    let key_type = private.string().ok_or_else(malformed)?;
    if key_type != b"ssh-ed25519" {
        return Err(format!(
            "an OpenSSH {} key; WAMP-Cryptosign needs ssh-ed25519",
            String::from_utf8_lossy(key_type)
        ));
    }
    let public = private.string().ok_or_else(malformed)?;
    let secret = private.string().ok_or_else(malformed)?;
    if secret.len() != 64 || public.len() != 32 {
        return Err(malformed());
    }
    let seed: [u8; 32] = secret[..32].try_into().map_err(|_| malformed())?;
    let key = CryptosignKey::from_seed(&seed);
    if key.key.verifying_key().as_bytes() != public || &secret[32..] != public {
        return Err("its public key does not belong to its private key".into());
    }
    Ok(key)
}

/// Reads the SSH wire encoding: big-endian `u32`s and length-prefixed strings.
struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
}

pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 2: a one-byte message.
    const RFC8032_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    const RFC8032_PUBLIC: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const RFC8032_SIGNATURE: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                                     085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    fn challenge(extra: &[(&str, Value)]) -> Dict {
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn signs_as_rfc8032_says() {
        let key = CryptosignKey::from_hex_seed(RFC8032_SEED).unwrap();
        assert_eq!(key.public_key_hex(), RFC8032_PUBLIC);
        assert_eq!(
            encode_hex(&key.key.sign(&[0x72]).to_bytes()),
            RFC8032_SIGNATURE
        );
    }

    #[test]
    fn answer_is_signature_then_challenge() {
        let key = CryptosignKey::from_hex_seed(RFC8032_SEED).unwrap();
        let nonce = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let extra = challenge(&[
            ("challenge", Value::from(nonce)),
            ("channel_binding", Value::Null),
        ]);
        let signed = sign(&key, &extra).unwrap();
        assert_eq!(signed.len(), 192);
        assert!(signed.ends_with(nonce));
        let signature = ed25519_dalek::Signature::from_bytes(
            &decode_hex(&signed[..128]).unwrap().try_into().unwrap(),
        );
        key.key
            .verifying_key()
            .verify_strict(&decode_hex(nonce).unwrap(), &signature)
            .unwrap();
    }

    #[test]
    fn malformed_challenges_are_refused() {
        let key = CryptosignKey::from_hex_seed(RFC8032_SEED).unwrap();
        for extra in [
            challenge(&[]),
            challenge(&[("challenge", Value::from(42))]),
            challenge(&[("challenge", Value::from("not hex at all"))]),
            challenge(&[("challenge", Value::from("abcd"))]),
            challenge(&[
                ("challenge", Value::from("00".repeat(32))),
                ("channel_binding", Value::from("tls-unique")),
            ]),
        ] {
            let err = sign(&key, &extra).unwrap_err();
            assert!(matches!(err, Error::Authentication(_)), "{err}");
        }
    }

    #[test]
    fn seeds_must_be_32_bytes_of_hex_and_never_echo() {
        for bad in ["", "abc", &"zz".repeat(32), &"00".repeat(31)] {
            let err = CryptosignKey::from_hex_seed(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)));
        }
        let err = CryptosignKey::from_hex_seed(&"7g".repeat(32)).unwrap_err();
        assert!(!err.to_string().contains("7g7g"));
    }

    #[test]
    fn debug_shows_only_the_public_key() {
        let key = CryptosignKey::from_hex_seed(RFC8032_SEED).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains(RFC8032_PUBLIC), "{debug}");
        assert!(!debug.contains(RFC8032_SEED), "{debug}");
    }

    #[test]
    fn reads_crossbar_hex_and_raw_key_files() {
        let crossbar = format!(
            "Crossbar.io node private key - KEEP THIS SAFE!\n\n\
             creator: someone@somewhere\ncreated-at: 2026-12-02T10:00:00.000Z\n\
             machine-id: 0123\npublic-key-ed25519: {RFC8032_PUBLIC}\n\
             private-key-ed25519: {RFC8032_SEED}\n"
        );
        let from = |bytes: &[u8]| parse_key_file(bytes).map(|key| key.public_key_hex());
        assert_eq!(from(crossbar.as_bytes()).unwrap(), RFC8032_PUBLIC);
        assert_eq!(
            from(format!("{RFC8032_SEED}\n").as_bytes()).unwrap(),
            RFC8032_PUBLIC
        );
        assert_eq!(
            from(&decode_hex(RFC8032_SEED).unwrap()).unwrap(),
            RFC8032_PUBLIC
        );
        let mismatched = crossbar.replace(RFC8032_PUBLIC, &"00".repeat(32));
        assert!(
            from(mismatched.as_bytes())
                .unwrap_err()
                .contains("does not belong")
        );
        assert!(from(b"hello").is_err());
    }

    /// An `openssh-key-v1` body, built field by field as OpenSSH's PROTOCOL.key describes.
    fn openssh_file(cipher: &str, seed: &[u8; 32], public: &[u8]) -> String {
        fn string(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut public_blob = Vec::new();
        string(&mut public_blob, b"ssh-ed25519");
        string(&mut public_blob, public);
        let mut private = Vec::new();
        private.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78]);
        string(&mut private, b"ssh-ed25519");
        string(&mut private, public);
        let mut secret = seed.to_vec();
        secret.extend_from_slice(public);
        string(&mut private, &secret);
        string(&mut private, b"me@host");
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.push(pad);
            pad += 1;
        }
        let mut blob = b"openssh-key-v1\0".to_vec();
        string(&mut blob, cipher.as_bytes());
        string(
            &mut blob,
            if cipher == "none" { b"none" } else { b"bcrypt" },
        );
        string(&mut blob, b"");
        blob.extend_from_slice(&1u32.to_be_bytes());
        string(&mut blob, &public_blob);
        string(&mut blob, &private);
        let body = crate::protocol::encode_base64(&blob);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!("{OPENSSH_BEGIN}\n{}\n{OPENSSH_END}\n", lines.join("\n"))
    }

    #[test]
    fn reads_openssh_ed25519_keys() {
        let seed: [u8; 32] = decode_hex(RFC8032_SEED).unwrap().try_into().unwrap();
        let public = decode_hex(RFC8032_PUBLIC).unwrap();
        let key = parse_key_file(openssh_file("none", &seed, &public).as_bytes()).unwrap();
        assert_eq!(key.public_key_hex(), RFC8032_PUBLIC);

        let encrypted = parse_key_file(openssh_file("aes256-ctr", &seed, &public).as_bytes());
        assert!(encrypted.unwrap_err().contains("ssh-keygen -p"));

        let wrong_public = parse_key_file(openssh_file("none", &seed, &[7; 32]).as_bytes());
        assert!(wrong_public.unwrap_err().contains("does not belong"));

        let truncated = openssh_file("none", &seed, &public).replace(OPENSSH_END, "");
        assert!(parse_key_file(truncated.as_bytes()).is_err());
    }
}

//! A CA file is read as a bundle, as Python's `ca_certs` is: the router's CA is trusted
//! wherever it stands in the file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use izaber_wamp::Error;
use support::{Router, unique};

/// A self-signed CA certificate (PEM) that signed nothing the router shows, made with the
/// router venv's `cryptography`, as the fixture makes the router's own.
fn unrelated_ca(python: &Path) -> String {
    const SCRIPT: &str = r#"
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "an unrelated CA")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    .sign(key, hashes.SHA256())
)
print(cert.public_bytes(serialization.Encoding.PEM).decode(), end="")
"#;
    let out = Command::new(python).arg("-c").arg(SCRIPT).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bundle_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("izaber-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn the_routers_ca_is_trusted_when_it_is_not_first_in_the_ca_file() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let other = unrelated_ca(router.python());
    let ours = std::fs::read_to_string(&router.ca_file).unwrap();
    let bundle = bundle_file(
        "ca-bundle",
        &format!("# other CA\n{other}\n# the router's CA\n{ours}"),
    );
    for url in [&router.wss_url, &router.tcps_url] {
        let client = router
            .client(url, router.backend(1))
            .ca_file(&bundle)
            .connect()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let procedure = unique("bundle");
        client.register(&procedure, |_| Ok(42)).unwrap();
        let answer = client.call(&procedure, ()).unwrap();
        assert_eq!(answer.as_i64(), Some(42), "{url}");
    }
    let _ = std::fs::remove_file(bundle);
}

#[test]
fn a_ca_file_without_the_routers_ca_is_still_refused() {
    let router = Router::shared();
    let other = unrelated_ca(router.python());
    let bundle = bundle_file("ca-other", &format!("{other}{other}"));
    let error = router
        .client(&router.wss_url, router.backend(1))
        .ca_file(&bundle)
        .connect()
        .unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error}");
    let _ = std::fs::remove_file(bundle);
}

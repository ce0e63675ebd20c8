//! HTTPS against a server whose certificate comes from a private CA made at test time:
//! trusted once its CA file is given, refused for good (with the reason) otherwise, and
//! refused for good when expired or issued for another name, whatever the trust.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::tls::{TlsTrust, TlsTrustError};
use tocsin_connector::ConnectorError;
use tocsin_test_support::tls::{self_signed, serve_https, PrivateCa, Validity};

async fn get(client: &HttpClient, port: u16) -> Result<String, ConnectorError> {
    let url = format!("https://localhost:{port}/");
    let reply = client
        .send(client.request(reqwest::Method::GET, &url), false)
        .await?;
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

fn permanent_saying(err: &ConnectorError, words: &str) -> bool {
    matches!(err, ConnectorError::Permanent(m) if m.contains(words))
}

#[tokio::test]
async fn a_server_certified_by_a_private_ca_is_trusted_once_its_ca_file_is_given() {
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["localhost"], Validity::Current).unwrap();
    let addr = serve_https(&leaf).await.unwrap();
    let trust = TlsTrust::system()
        .with_extra_ca_files([&ca.ca_file])
        .unwrap();
    assert_eq!(trust.extra_ca_files(), vec![ca.ca_file.as_path()]);
    let client = HttpClient::with_trust(HttpLimits::default(), &trust).unwrap();
    assert_eq!(get(&client, addr.port()).await.unwrap(), "trusted");
}

#[tokio::test]
async fn without_the_private_ca_the_certificate_is_a_permanent_unknown_issuer_error() {
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["localhost"], Validity::Current).unwrap();
    let addr = serve_https(&leaf).await.unwrap();
    let client = HttpClient::new(HttpLimits::default()).unwrap();
    let err = get(&client, addr.port()).await.unwrap_err();
    assert!(
        permanent_saying(&err, "unknown certificate authority"),
        "{err:?}"
    );
    let self_signed = self_signed(ca.dir(), &["localhost"]).unwrap();
    let addr = serve_https(&self_signed).await.unwrap();
    let err = get(&client, addr.port()).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
}

#[tokio::test]
async fn an_expired_certificate_is_a_permanent_error_even_from_a_trusted_ca() {
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["localhost"], Validity::Expired).unwrap();
    let addr = serve_https(&leaf).await.unwrap();
    let trust = TlsTrust::bundled_only()
        .with_extra_ca_files([&ca.ca_file])
        .unwrap();
    let client = HttpClient::with_trust(HttpLimits::default(), &trust).unwrap();
    let err = get(&client, addr.port()).await.unwrap_err();
    assert!(permanent_saying(&err, "expired"), "{err:?}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_permanent_error() {
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["mail.example.org"], Validity::Current).unwrap();
    let addr = serve_https(&leaf).await.unwrap();
    let trust = TlsTrust::bundled_only()
        .with_extra_ca_files([&ca.ca_file])
        .unwrap();
    let client = HttpClient::with_trust(HttpLimits::default(), &trust).unwrap();
    let err = get(&client, addr.port()).await.unwrap_err();
    assert!(
        permanent_saying(&err, "not valid for this host name"),
        "{err:?}"
    );
}

#[test]
fn a_missing_or_non_pem_ca_file_is_refused_when_the_trust_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.pem");
    assert!(matches!(
        TlsTrust::system().with_extra_ca_files([&missing]),
        Err(TlsTrustError::Read { .. })
    ));
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = TlsTrust::system().with_extra_ca_files([&junk]).unwrap_err();
    assert!(matches!(err, TlsTrustError::NoCertificate { .. }), "{err}");
    assert!(matches!(
        ConnectorError::from(err),
        ConnectorError::Config(_)
    ));
}

/// The system store is read from `SSL_CERT_FILE`: the check runs in a child process of
/// this test binary with the variable pointing at a private CA (the store is read once
/// per process, so it cannot be changed inside this one).
#[tokio::test]
async fn the_system_store_named_by_ssl_cert_file_is_trusted() {
    if let Ok(port) = std::env::var("TOCSIN_TEST_SYSTEM_STORE_PORT") {
        let client = HttpClient::new(HttpLimits::default()).unwrap();
        let body = get(&client, port.parse().unwrap()).await.unwrap();
        assert_eq!(body, "trusted");
        return;
    }
    let mut ca = PrivateCa::new().unwrap();
    let leaf = ca.issue(&["localhost"], Validity::Current).unwrap();
    let addr = serve_https(&leaf).await.unwrap();
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_system_store_named_by_ssl_cert_file_is_trusted",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", &ca.ca_file)
        .env_remove("SSL_CERT_DIR")
        .env("TOCSIN_TEST_SYSTEM_STORE_PORT", addr.port().to_string())
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && out.contains("1 passed"),
        "{out}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

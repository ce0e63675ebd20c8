//! A private certificate authority made at test time (rcgen), and a tiny HTTPS server.
//!
//! Tests of TLS trust need certificates no public root signed: one from a private CA,
//! one expired, one for another host name. [`PrivateCa`] makes them as PEM files in a
//! temporary directory; [`serve_https`] answers `200 OK` over TLS with one of them.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a test certificate or server could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestTlsError {
    /// rcgen refused the parameters.
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Writing or reading the PEM files, or binding the server.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// rustls refused the certificate or key.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The PEM could not be parsed back.
    #[error("PEM: {0}")]
    Pem(#[from] tokio_rustls::rustls::pki_types::pem::Error),
}

/// How long a leaf certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 2020 to 2099.
    Current,
    /// From 2020 to 2021: expired.
    Expired,
}

/// A leaf certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key_file: PathBuf,
}

/// A certificate authority that exists only in this test, with its PEM files in a
/// temporary directory (removed on drop).
pub struct PrivateCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM), to give as an extra trusted CA file.
    pub ca_file: PathBuf,
    dir: tempfile::TempDir,
    issued: usize,
}

impl PrivateCa {
    /// A fresh CA, "Tocsin Test Private CA".
    pub fn new() -> Result<PrivateCa, TestTlsError> {
        let dir = tempfile::tempdir()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Tocsin Test Private CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, cert.pem())?;
        Ok(PrivateCa {
            issuer: Issuer::new(params, key),
            ca_file,
            dir,
            issued: 0,
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by this CA.
    pub fn issue(&mut self, names: &[&str], validity: Validity) -> Result<Leaf, TestTlsError> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (params.not_before, params.not_after) = match validity {
            Validity::Current => (date_time_ymd(2020, 1, 1), date_time_ymd(2099, 1, 1)),
            Validity::Expired => (date_time_ymd(2020, 1, 1), date_time_ymd(2021, 1, 1)),
        };
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        self.issued += 1;
        let cert_file = self.dir.path().join(format!("leaf-{}.pem", self.issued));
        let key_file = self.dir.path().join(format!("leaf-{}.key", self.issued));
        std::fs::write(&cert_file, cert.pem())?;
        std::fs::write(&key_file, key.serialize_pem())?;
        Ok(Leaf {
            cert_file,
            key_file,
        })
    }

    /// The CA certificate as DER, to trust it in code.
    pub fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, TestTlsError> {
        Ok(CertificateDer::pem_file_iter(&self.ca_file)?.collect::<Result<Vec<_>, _>>()?)
    }

    /// The directory the PEM files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A self-signed certificate for `names` that no CA vouches for.
pub fn self_signed(dir: &Path, names: &[&str]) -> Result<Leaf, TestTlsError> {
    let key = KeyPair::generate()?;
    let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    let cert = params.self_signed(&key)?;
    let cert_file = dir.join("self-signed.pem");
    let key_file = dir.join("self-signed.key");
    std::fs::write(&cert_file, cert.pem())?;
    std::fs::write(&key_file, key.serialize_pem())?;
    Ok(Leaf {
        cert_file,
        key_file,
    })
}

/// A rustls server configuration presenting `leaf`.
pub fn server_config(leaf: &Leaf) -> Result<Arc<rustls::ServerConfig>, TestTlsError> {
    let certs = CertificateDer::pem_file_iter(&leaf.cert_file)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&leaf.key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Serves HTTPS on `127.0.0.1` with `leaf`: every request gets `200 OK` and the body
/// `trusted`. Runs until the test's runtime ends.
pub async fn serve_https(leaf: &Leaf) -> Result<SocketAddr, TestTlsError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(leaf)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buffer = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(buffer.get(..n).unwrap_or_default()),
                    }
                }
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntrusted";
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok(addr)
}

/// Terminates TLS with `leaf` on `127.0.0.1` and passes the bytes on to `upstream` (a
/// plain fake): the fake, served over `https`/`wss`. Runs until the test's runtime ends.
pub async fn tls_proxy(leaf: &Leaf, upstream: SocketAddr) -> Result<SocketAddr, TestTlsError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(leaf)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok(addr)
}

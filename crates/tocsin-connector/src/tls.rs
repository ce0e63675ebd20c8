//! Which certificate authorities connectors trust, and what a refused certificate means.
//!
//! Health departments often sit behind a TLS-inspecting proxy or run their own mail and
//! Matrix servers under a private CA. A [`TlsTrust`] is the bundled Mozilla roots, plus the
//! system trust store (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else the OS store, read once per
//! process), plus extra CA files in PEM given by the operator.
//!
//! Wiring: read `[tls] extra_ca_files` from the config, build one trust with
//! `TlsTrust::system().with_extra_ca_files(paths)?` at start-up (a missing or unreadable file
//! is a configuration error then, not at the first alert), build the HTTP client with
//! [`crate::http::HttpClient::with_trust`], and give the same value to connectors that
//! open their own connections (`EmailConnector::with_tls_trust`).
//!
//! A certificate the trust refuses (unknown issuer, expired, wrong host name) is a
//! permanent failure with its reason ([`certificate_problem`]): retrying cannot fix it.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why a trust could not be built from the given CA files.
#[derive(Debug, thiserror::Error)]
pub enum TlsTrustError {
    /// The file could not be read.
    #[error("cannot read the CA file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate, or one that does not parse.
    #[error("the CA file {path} holds no usable PEM certificate{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What was wrong, if anything specific.
        reason: Option<String>,
    },
}

impl From<TlsTrustError> for crate::ConnectorError {
    fn from(e: TlsTrustError) -> Self {
        crate::ConnectorError::Config(e.to_string())
    }
}

/// The certificate authorities a connector trusts. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TlsTrust {
    extra: Arc<Vec<(PathBuf, Vec<CertificateDer<'static>>)>>,
    without_system: bool,
}

/// The system store, loaded once per process (parsing it takes milliseconds, and it
/// does not change while the server runs). Certificates that do not parse are skipped.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut usable = Vec::new();
        for cert in found.certs {
            let mut probe = rustls::RootCertStore::empty();
            if probe.add(cert.clone()).is_ok() {
                usable.push(cert);
            }
        }
        usable
    })
}

impl TlsTrust {
    /// The bundled roots and the system store (the default).
    pub fn system() -> Self {
        TlsTrust::default()
    }

    /// The bundled roots only: no system store (for tests that must not depend on the
    /// machine's store).
    pub fn bundled_only() -> Self {
        TlsTrust {
            without_system: true,
            ..TlsTrust::default()
        }
    }

    /// This trust and the CAs in each PEM file (each file may hold several).
    pub fn with_extra_ca_files<P: AsRef<Path>>(
        self,
        files: impl IntoIterator<Item = P>,
    ) -> Result<Self, TlsTrustError> {
        let mut extra: Vec<_> = self.extra.as_ref().clone();
        for file in files {
            let path = file.as_ref().to_path_buf();
            let pem = std::fs::read(&path).map_err(|source| TlsTrustError::Read {
                path: path.clone(),
                source,
            })?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsTrustError::NoCertificate {
                    path: path.clone(),
                    reason: Some(e.to_string()),
                })?;
            if certs.is_empty() {
                return Err(TlsTrustError::NoCertificate { path, reason: None });
            }
            for cert in &certs {
                rustls::RootCertStore::empty()
                    .add(cert.clone())
                    .map_err(|e| TlsTrustError::NoCertificate {
                        path: path.clone(),
                        reason: Some(e.to_string()),
                    })?;
            }
            extra.push((path, certs));
        }
        Ok(TlsTrust {
            extra: Arc::new(extra),
            without_system: self.without_system,
        })
    }

    /// The extra CA files given, in order.
    pub fn extra_ca_files(&self) -> Vec<&Path> {
        self.extra.iter().map(|(p, _)| p.as_path()).collect()
    }

    /// Whether the system store is trusted.
    pub fn uses_system_store(&self) -> bool {
        !self.without_system
    }

    /// Every root to add to the bundled ones: the system store's (unless left out), then
    /// the extra CAs, as DER.
    pub fn added_roots(&self) -> Vec<CertificateDer<'static>> {
        let mut roots: Vec<CertificateDer<'static>> = if self.without_system {
            Vec::new()
        } else {
            system_roots().to_vec()
        };
        for (_, certs) in self.extra.iter() {
            roots.extend(certs.iter().cloned());
        }
        roots
    }
}

/// If `error` (or anything in its source chain) is a refused server certificate, why, in
/// words an administrator can act on.
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(reason) = e.downcast_ref::<rustls::Error>().and_then(describe) {
            return Some(reason);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(reason) = certificate_problem(inner) {
                return Some(reason);
            }
        }
        current = e.source();
    }
    None
}

fn describe(error: &rustls::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = error else {
        return None;
    };
    let why = match cert {
        C::UnknownIssuer => "it is issued by an unknown certificate authority (a private CA? add it to [tls] extra_ca_files)".to_string(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet (check the clocks)".to_string(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for this host name".to_string()
        }
        C::Revoked => "it has been revoked".to_string(),
        C::BadSignature => "its signature is invalid".to_string(),
        other => format!("{other:?}"),
    };
    Some(format!("the server's TLS certificate was refused: {why}"))
}

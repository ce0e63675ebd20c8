//! The TLS trust store `tocsin doctor` reports: how many bundled (Mozilla) roots and
//! system-store roots connectors trust, and each `[tls] extra_ca_files` file read as the
//! server reads it, with its certificates counted and any expired or expiring soon named.
//! A file the server would refuse at start-up is a failure naming its path.

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tocsin_connector::tls::TlsTrust;

/// A CA expiring within this many days is a warning.
pub(super) const EXPIRY_WARN_DAYS: i64 = 30;

/// What one extra CA file holds.
#[derive(Debug, Serialize)]
pub(super) struct CaFileReport {
    /// The file, as configured.
    pub path: PathBuf,
    /// Why the server would refuse it (then nothing else is known), or null.
    pub error: Option<String>,
    /// How many certificates it holds.
    pub certificates: usize,
    /// Its certificates that have expired or expire within [`EXPIRY_WARN_DAYS`].
    pub expiring: Vec<CaExpiry>,
}

/// A certificate that has expired or expires soon.
#[derive(Debug, Serialize)]
pub(super) struct CaExpiry {
    /// Its subject, as `CN=..., O=...`.
    pub subject: String,
    /// When it stops being valid (RFC 3339).
    pub not_after: DateTime<Utc>,
    /// Whether that is already past.
    pub expired: bool,
}

/// The whole trust store.
#[derive(Debug, Serialize)]
pub(super) struct TrustReport {
    /// The roots built into the binary (Mozilla's, as webpki-roots carries them).
    pub bundled_roots: usize,
    /// The usable roots of the system store (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else the
    /// operating system's).
    pub system_roots: usize,
    /// Each `[tls] extra_ca_files` entry, in order.
    pub extra_ca_files: Vec<CaFileReport>,
}

/// Reads the trust store as connectors would build it, at `now`.
pub(super) fn report(extra_ca_files: &[PathBuf], now: DateTime<Utc>) -> TrustReport {
    TrustReport {
        bundled_roots: webpki_roots::TLS_SERVER_ROOTS.len(),
        system_roots: TlsTrust::system().added_roots().len(),
        extra_ca_files: extra_ca_files
            .iter()
            .map(|path| ca_file(path, now))
            .collect(),
    }
}

fn ca_file(path: &Path, now: DateTime<Utc>) -> CaFileReport {
    let mut report = CaFileReport {
        path: path.to_path_buf(),
        error: None,
        certificates: 0,
        expiring: Vec::new(),
    };
    // The server's own reading first, so the verdict is the one start-up would give.
    if let Err(e) = TlsTrust::bundled_only().with_extra_ca_files([path]) {
        report.error = Some(e.to_string());
        return report;
    }
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(e) => {
            report.error = Some(format!("cannot read the CA file {}: {e}", path.display()));
            return report;
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    report.certificates = certs.len();
    let soon = now + chrono::Duration::days(EXPIRY_WARN_DAYS);
    for der in &certs {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
            // Usable as a trust anchor but not a full X.509 parse: nothing to say of its
            // dates.
            continue;
        };
        let Some(not_after) =
            DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0)
        else {
            continue;
        };
        if not_after <= soon {
            report.expiring.push(CaExpiry {
                subject: cert.subject().to_string(),
                not_after,
                expired: not_after <= now,
            });
        }
    }
    report
}

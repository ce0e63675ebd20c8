//! The certificate authorities the monitor's streams trust: the bundled web roots plus
//! what the deployment adds (the system store and `[tls] extra_ca_files`, the same roots
//! its connectors trust), for the websocket streams and the instance and timeline
//! requests alike. An instance behind a private CA is then heard like any other.

use std::sync::Arc;
use tokio_tungstenite::Connector;

/// Certificates (DER) to trust beyond the bundled roots. Cheap to clone; empty by
/// default (the bundled roots only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraRoots(Arc<Vec<rustls::pki_types::CertificateDer<'static>>>);

impl ExtraRoots {
    /// Trusts `roots` too.
    pub fn new(roots: Vec<rustls::pki_types::CertificateDer<'static>>) -> ExtraRoots {
        ExtraRoots(Arc::new(roots))
    }

    /// How many certificates are added.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The websocket TLS connector: ring named explicitly (so no process-wide crypto
    /// provider has to be chosen; rustls panics when it cannot choose one), the bundled
    /// roots and these. A certificate rustls refuses is skipped, naming the stream.
    pub(crate) fn ws_connector(&self, stream: &str) -> Connector {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in self.0.iter() {
            if let Err(e) = roots.add(cert.clone()) {
                tracing::warn!(%stream, "an extra CA certificate was not usable: {e}");
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => Connector::Rustls(Arc::new(
                builder.with_root_certificates(roots).with_no_client_auth(),
            )),
            Err(e) => {
                // wss:// then fails per attempt with a clear error; ws:// still works.
                tracing::warn!(%stream, "TLS is unavailable: {e}");
                Connector::Plain
            }
        }
    }

    /// `builder` trusting these too (instance lookups and timeline polling).
    pub(crate) fn http(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        for cert in self.0.iter() {
            match reqwest::Certificate::from_der(cert.as_ref()) {
                Ok(c) => builder = builder.add_root_certificate(c),
                Err(e) => tracing::warn!("an extra CA certificate was not usable: {e}"),
            }
        }
        builder
    }
}

//! Building an account's connector: the platform's descriptor in [`crate::ALL`] builds
//! it, the sandbox records locally, and a platform without a connector says so.

use std::sync::Arc;
use tocsin_connector::http::HttpClient;
use tocsin_connector::{Connector, ConnectorError};
use tocsin_domain::Platform;

use crate::sandbox::{SandboxConnector, SandboxLog};
pub use tocsin_connector::AccountSpec;

/// Builds the connector for an account. The sandbox records into `sandbox`.
pub fn build_connector(
    spec: &AccountSpec,
    http: &HttpClient,
    sandbox: &Arc<SandboxLog>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    if spec.platform == Platform::Sandbox {
        return Ok(Arc::new(SandboxConnector::new(&spec.id, sandbox.clone())));
    }
    match crate::descriptor(spec.platform) {
        Some(d) => (d.build)(spec, http),
        None => Err(ConnectorError::Config(format!(
            "no connector for {} yet",
            spec.platform.display_name()
        ))),
    }
}

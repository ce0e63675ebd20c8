//! An account as the dispatcher knows it: the input every platform's connector is built
//! from. It lives here, beside [`crate::descriptor`], because a descriptor's `build`
//! takes it and both the app and the connectors read descriptors.

use secrecy::SecretString;
use serde_json::Value;
use tocsin_domain::Platform;

/// One platform account: who it is, its non-secret settings, and its secret.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// Tocsin's id for the account.
    pub id: String,
    /// The platform.
    pub platform: Platform,
    /// A name people recognise ("@health@mastodon.example").
    pub name: String,
    /// Platform settings (base URL, room id, ...), checked by the platform's config type.
    pub settings: Value,
    /// The token, app password or signing secret. Never logged.
    pub secret: Option<SecretString>,
}

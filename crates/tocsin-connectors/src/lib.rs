//! Tocsin's platform connectors: one module per platform, each speaking that platform's
//! wire format for one account behind [`tocsin_connector::Connector`].
//!
//! Modules follow one layout (as vector's sinks do): `config.rs` holds the account's
//! settings (unknown fields refused), `mod.rs` the connector, `descriptor.rs` what the
//! rest of Tocsin knows of the platform (a [`PlatformDescriptor`]: settings, secret,
//! host, OAuth facts, counting rule, capabilities), `tests.rs` its own tests against the
//! fake server in `tocsin-test-support`; `tests/conformance/` runs every connector
//! through the same failure cases. [`ALL`] lists the descriptors, and everything that
//! needs a per-platform fact loops over it. [`build_connector`] turns an [`AccountSpec`]
//! into a ready connector. No connector retries: the shared layer does.

mod account;
pub mod bluesky;
pub mod discord;
pub mod email;
mod endpoint;
pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub mod matrix;
mod media;
mod meta;
pub mod sandbox;
pub mod slack;
pub mod sms;
pub mod teams;
pub mod telegram;
pub mod threads;
pub mod webhook;
pub mod x;

pub use account::{build_connector, AccountSpec};
pub use tocsin_connector::PlatformDescriptor;

use tocsin_domain::counting::CountingRules;
use tocsin_domain::Platform;

/// Every platform an account can be connected on, in display order.
pub const ALL: &[&PlatformDescriptor] = &[
    &mastodon::DESCRIPTOR,
    &bluesky::DESCRIPTOR,
    &x::DESCRIPTOR,
    &facebook::DESCRIPTOR,
    &threads::DESCRIPTOR,
    &instagram::DESCRIPTOR,
    &linkedin::DESCRIPTOR,
    &telegram::DESCRIPTOR,
    &discord::DESCRIPTOR,
    &slack::DESCRIPTOR,
    &teams::DESCRIPTOR,
    &matrix::DESCRIPTOR,
    &email::DESCRIPTOR,
    &sms::DESCRIPTOR,
    &webhook::DESCRIPTOR,
];

/// Platforms that fetch a post's images from Tocsin (`[server] public_url` plus an
/// unguessable path) instead of taking an upload.
pub fn fetching_images() -> Vec<Platform> {
    ALL.iter()
        .filter(|d| d.images.is_some_and(|i| i.fetched))
        .map(|d| d.platform)
        .collect()
}

/// Whether a deployment without `[server] public_url` cannot post to `platform` at all:
/// it takes no post without an image, and fetches its images from Tocsin.
pub fn needs_public_url(platform: Platform) -> bool {
    descriptor(platform)
        .and_then(|d| d.images)
        .is_some_and(|i| i.fetched && i.required)
}

/// The descriptor of `platform`; `None` for platforms without accounts (the CAP feed,
/// the sandbox).
pub fn descriptor(platform: Platform) -> Option<&'static PlatformDescriptor> {
    ALL.iter().copied().find(|d| d.platform == platform)
}

/// Every platform's counting rule, for the composer.
pub fn counting_rules() -> CountingRules {
    ALL.iter().map(|d| (d.platform, d.counting)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_appears_once_and_only_the_feed_and_the_sandbox_have_no_descriptor() {
        for p in Platform::ALL {
            let n = ALL.iter().filter(|d| d.platform == p).count();
            let expected = usize::from(!matches!(p, Platform::Cap | Platform::Sandbox));
            assert_eq!(n, expected, "{p}");
        }
    }

    #[test]
    fn the_counting_rules_are_the_descriptors_own() {
        let rules = counting_rules();
        for d in ALL {
            assert_eq!(rules.rule(d.platform), d.counting, "{}", d.platform);
        }
        assert_eq!(
            rules.rule(Platform::Cap),
            tocsin_domain::counting::CountingRule::UNLIMITED
        );
    }
}

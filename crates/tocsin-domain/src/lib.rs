//! Tocsin's pure core: everything about a message that can be decided without I/O.
//!
//! Playbooks ([`playbook`]) declare typed variables ([`variables`]) and steps whose
//! Handlebars templates are rendered per platform ([`render`]); each rendered variant is
//! measured the way its platform counts ([`counting`]) and checked for protected health
//! information ([`phi`]) before anyone may approve it. [`content_hash`] and
//! [`preapproval`] make "pre-approved" a checked fact rather than a label; [`readability`]
//! grades each variant in plain-language terms. [`cap`], [`atom`] and [`alert_feed`] turn
//! approved messages into the public alert feed.
//! Nothing here touches the network, the disk (except [`library`], which reads the
//! playbook directory) or the clock.

pub mod counting;
pub mod phi;
pub mod platform;

pub use platform::{Platform, TextFormat, UnknownPlatform};
pub mod account_languages;
pub mod alert_feed;
pub mod approval;
pub mod atom;
pub mod audience;
pub mod cap;
pub mod compose;
pub mod content_hash;
pub mod diagnostics;
pub mod language;
pub mod library;
pub mod lint;
pub mod playbook;
pub mod preapproval;
pub mod readability;
pub mod render;
pub mod step_variables;
pub mod template_names;
pub mod variables;
pub mod wea;
mod xml;

#[cfg(test)]
mod languages_tests;

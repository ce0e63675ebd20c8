//! The destinations Tocsin can publish to, and what each one expects of text.
//!
//! A [`Platform`] is a kind of destination (Mastodon, X, SMS, ...), not an account:
//! one platform has many accounts. Rendering, counting and connectors key on it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A kind of destination Tocsin can publish to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Mastodon and other ActivityPub servers speaking the Mastodon client API.
    Mastodon,
    /// Bluesky (AT Protocol).
    Bluesky,
    /// X (formerly Twitter), API v2.
    X,
    /// Facebook Pages (Graph API).
    Facebook,
    /// Threads (Meta), two-step container publish.
    Threads,
    /// Instagram professional accounts (Graph API): an image container, then publish.
    Instagram,
    /// LinkedIn organisation pages (Posts API).
    Linkedin,
    /// Telegram channels and groups through the Bot API.
    Telegram,
    /// Discord channels through webhooks.
    Discord,
    /// Slack channels through the Web API.
    Slack,
    /// Microsoft Teams channels through a Workflows webhook (Adaptive Card).
    Teams,
    /// Matrix rooms through the client-server API.
    Matrix,
    /// Email over SMTP (plain text and HTML parts).
    Email,
    /// SMS through Twilio.
    Sms,
    /// A signed generic webhook (Standard Webhooks).
    Webhook,
    /// The Atom feed with Common Alerting Protocol 1.2 entries served by Tocsin.
    Cap,
    /// A local destination that only records what it would have sent (demo, exercise).
    Sandbox,
}

/// How a platform interprets the text it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Shown exactly as sent: must never be HTML-escaped.
    Plain,
    /// HTML (the email HTML part): values must be HTML-escaped.
    Html,
}

impl Platform {
    /// Every platform, in a stable display order.
    pub const ALL: [Platform; 17] = [
        Platform::Mastodon,
        Platform::Bluesky,
        Platform::X,
        Platform::Facebook,
        Platform::Threads,
        Platform::Instagram,
        Platform::Linkedin,
        Platform::Telegram,
        Platform::Discord,
        Platform::Slack,
        Platform::Teams,
        Platform::Matrix,
        Platform::Email,
        Platform::Sms,
        Platform::Webhook,
        Platform::Cap,
        Platform::Sandbox,
    ];

    /// The identifier used in playbooks, config and the API (`mastodon`, `x`, `sms`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::X => "x",
            Platform::Facebook => "facebook",
            Platform::Threads => "threads",
            Platform::Instagram => "instagram",
            Platform::Linkedin => "linkedin",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Matrix => "matrix",
            Platform::Email => "email",
            Platform::Sms => "sms",
            Platform::Webhook => "webhook",
            Platform::Cap => "cap",
            Platform::Sandbox => "sandbox",
        }
    }

    /// A human name for screens and reports.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Mastodon => "Mastodon",
            Platform::Bluesky => "Bluesky",
            Platform::X => "X",
            Platform::Facebook => "Facebook Page",
            Platform::Threads => "Threads",
            Platform::Instagram => "Instagram",
            Platform::Linkedin => "LinkedIn",
            Platform::Telegram => "Telegram",
            Platform::Discord => "Discord",
            Platform::Slack => "Slack",
            Platform::Teams => "Microsoft Teams",
            Platform::Matrix => "Matrix",
            Platform::Email => "Email",
            Platform::Sms => "SMS",
            Platform::Webhook => "Webhook",
            Platform::Cap => "Atom/CAP feed",
            Platform::Sandbox => "Sandbox",
        }
    }

    /// Whether posts on this platform carry hashtags. Email, SMS, chat rooms, webhooks
    /// and the CAP feed get none: there a hashtag is noise (and SMS segments cost money).
    pub fn uses_hashtags(self) -> bool {
        matches!(
            self,
            Platform::Mastodon
                | Platform::Bluesky
                | Platform::X
                | Platform::Facebook
                | Platform::Threads
                | Platform::Instagram
                | Platform::Linkedin
                | Platform::Telegram
        )
    }

    /// How the platform shows text. Every platform except the HTML email part is plain
    /// text; the HTML part is a separate variant (see [`crate::render`]).
    pub fn text_format(self) -> TextFormat {
        TextFormat::Plain
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A platform name that Tocsin does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}` (known: mastodon, bluesky, x, facebook, threads, instagram, linkedin, telegram, discord, slack, teams, matrix, email, sms, webhook, cap, sandbox)")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "twitter" => "x",
            "facebook_page" | "facebook-page" => "facebook",
            "linked_in" => "linkedin",
            "ig" => "instagram",
            "msteams" | "microsoft_teams" => "teams",
            "twilio" => "sms",
            "atom" | "feed" => "cap",
            other => other,
        };
        Platform::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == alias)
            .ok_or_else(|| UnknownPlatform(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_round_trips_through_its_name() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
    }

    #[test]
    fn twitter_is_an_alias_for_x_and_unknown_names_are_refused() {
        assert_eq!("Twitter".parse::<Platform>(), Ok(Platform::X));
        assert!("myspace".parse::<Platform>().is_err());
    }
}

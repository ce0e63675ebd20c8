//! A platform's counting rule as a value: what it counts, its limit, and its other caps.
//!
//! Each platform's descriptor (in `tocsin-connectors`) holds one [`CountingRule`], and the
//! composer is given them as [`CountingRules`], so counting reads a value instead of
//! matching on every platform. The rules that need an algorithm of their own (X's
//! twitter-text weights, Mastodon's URLs, Threads' emoji, SMS segments) are named here.

use std::collections::BTreeMap;

use super::measure::CountUnit;
use super::{instagram, threads, twitter};
use crate::Platform;

/// How a text's length is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// X's twitter-text weighted characters (CJK and emoji weigh 2, URLs 23).
    TwitterWeighted,
    /// Mastodon: graphemes, `http(s)` URLs as 23, `@user@domain` as `@user`.
    Mastodon,
    /// Extended grapheme clusters.
    Graphemes,
    /// Threads: code points, emoji as their UTF-8 bytes.
    Threads,
    /// Unicode code points.
    Characters,
    /// UTF-16 code units.
    Utf16Units,
    /// UTF-8 bytes.
    Bytes,
    /// Billed SMS segments.
    SmsSegments,
    /// Not counted against anything (the number of characters is reported).
    Uncounted,
}

impl Counter {
    /// The unit a measurement with this counter reports.
    pub fn unit(self) -> CountUnit {
        match self {
            Counter::TwitterWeighted => CountUnit::WeightedCharacters,
            Counter::Mastodon | Counter::Graphemes => CountUnit::Graphemes,
            Counter::Threads | Counter::Characters => CountUnit::Characters,
            Counter::Utf16Units => CountUnit::Utf16Units,
            Counter::Bytes => CountUnit::Bytes,
            Counter::SmsSegments => CountUnit::SmsSegments,
            Counter::Uncounted => CountUnit::Unlimited,
        }
    }
}

/// Where a platform's length limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The same everywhere.
    Fixed(usize),
    /// The Mastodon instance's limit (`PlatformLimits::mastodon_max_characters`).
    MastodonInstance,
    /// The segments the organisation pays for (`PlatformLimits::sms_max_segments`).
    SmsSegments,
    /// No limit.
    None,
}

/// How one platform counts a text, and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountingRule {
    /// How the length is counted.
    pub counter: Counter,
    /// The length limit.
    pub limit: Limit,
    /// A UTF-8 byte cap besides the length limit (Bluesky: 3,000).
    pub max_bytes: Option<usize>,
    /// Most hashtags a post may carry (Threads: 1, Instagram: 30).
    pub max_hashtags: Option<usize>,
    /// Most distinct links a post may carry (Threads: 5).
    pub max_links: Option<usize>,
    /// Most @-mentions a post may carry (Instagram: 20).
    pub max_mentions: Option<usize>,
}

impl CountingRule {
    /// A rule with this counter and limit and no other cap.
    pub const fn new(counter: Counter, limit: Limit) -> CountingRule {
        CountingRule {
            counter,
            limit,
            max_bytes: None,
            max_hashtags: None,
            max_links: None,
            max_mentions: None,
        }
    }

    /// Code points, at most `max`.
    pub const fn characters(max: usize) -> CountingRule {
        CountingRule::new(Counter::Characters, Limit::Fixed(max))
    }

    /// UTF-16 code units, at most `max`.
    pub const fn utf16_units(max: usize) -> CountingRule {
        CountingRule::new(Counter::Utf16Units, Limit::Fixed(max))
    }

    /// UTF-8 bytes, at most `max`.
    pub const fn bytes(max: usize) -> CountingRule {
        CountingRule::new(Counter::Bytes, Limit::Fixed(max))
    }

    /// No limit at all (email, webhooks, the CAP feed, the sandbox).
    pub const UNLIMITED: CountingRule = CountingRule::new(Counter::Uncounted, Limit::None);

    /// X: 280 weighted characters (twitter-text v3).
    pub const X: CountingRule = CountingRule::new(
        Counter::TwitterWeighted,
        Limit::Fixed(twitter::MAX_WEIGHTED_LENGTH),
    );

    /// Mastodon: the instance's limit, in Mastodon's own count.
    pub const MASTODON: CountingRule =
        CountingRule::new(Counter::Mastodon, Limit::MastodonInstance);

    /// Bluesky: 300 graphemes (`app.bsky.feed.post` `text.maxGraphemes`) and 3,000 UTF-8
    /// bytes (`text.maxLength`).
    pub const BLUESKY: CountingRule = CountingRule {
        max_bytes: Some(3000),
        ..CountingRule::new(Counter::Graphemes, Limit::Fixed(300))
    };

    /// Threads: 500 characters with emoji as their bytes, one topic tag, five links.
    pub const THREADS: CountingRule = CountingRule {
        max_hashtags: Some(threads::MAX_HASHTAGS),
        max_links: Some(threads::MAX_LINKS),
        ..CountingRule::new(Counter::Threads, Limit::Fixed(threads::MAX_CHARACTERS))
    };

    /// Instagram captions: 2,200 characters, 30 hashtags and 20 @-mentions.
    pub const INSTAGRAM: CountingRule = CountingRule {
        max_hashtags: Some(instagram::MAX_HASHTAGS),
        max_mentions: Some(instagram::MAX_MENTIONS),
        ..CountingRule::characters(instagram::MAX_CHARACTERS)
    };

    /// SMS: the segments the organisation pays for.
    pub const SMS: CountingRule = CountingRule::new(Counter::SmsSegments, Limit::SmsSegments);
}

/// Each platform's counting rule, as the composer applies them. A platform without one
/// (the CAP feed, the sandbox) is [`CountingRule::UNLIMITED`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountingRules {
    rules: BTreeMap<Platform, CountingRule>,
}

impl CountingRules {
    /// The rule of `platform`.
    pub fn rule(&self, platform: Platform) -> CountingRule {
        self.rules
            .get(&platform)
            .copied()
            .unwrap_or(CountingRule::UNLIMITED)
    }
}

impl FromIterator<(Platform, CountingRule)> for CountingRules {
    fn from_iter<I: IntoIterator<Item = (Platform, CountingRule)>>(iter: I) -> Self {
        CountingRules {
            rules: iter.into_iter().collect(),
        }
    }
}

/// The rules of today's platforms, for this crate's own tests (the real table is built
/// from the connectors' descriptors; a test there checks they agree).
#[cfg(test)]
pub(crate) fn test_rules() -> CountingRules {
    [
        (Platform::Mastodon, CountingRule::MASTODON),
        (Platform::Bluesky, CountingRule::BLUESKY),
        (Platform::X, CountingRule::X),
        (Platform::Facebook, CountingRule::characters(63_206)),
        (Platform::Threads, CountingRule::THREADS),
        (Platform::Instagram, CountingRule::INSTAGRAM),
        (Platform::Linkedin, CountingRule::characters(3000)),
        (Platform::Telegram, CountingRule::utf16_units(4096)),
        (Platform::Discord, CountingRule::characters(2000)),
        (Platform::Slack, CountingRule::characters(40_000)),
        (Platform::Teams, CountingRule::bytes(27_000)),
        (Platform::Matrix, CountingRule::bytes(32_000)),
        (Platform::Email, CountingRule::UNLIMITED),
        (Platform::Sms, CountingRule::SMS),
        (Platform::Webhook, CountingRule::UNLIMITED),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_without_a_rule_is_unlimited() {
        let rules = test_rules();
        assert_eq!(rules.rule(Platform::Cap), CountingRule::UNLIMITED);
        assert_eq!(rules.rule(Platform::X), CountingRule::X);
        assert_eq!(
            CountingRules::default().rule(Platform::Sms),
            CountingRule::UNLIMITED
        );
    }

    #[test]
    fn each_counter_reports_its_unit() {
        assert_eq!(
            Counter::TwitterWeighted.unit(),
            CountUnit::WeightedCharacters
        );
        assert_eq!(Counter::Threads.unit(), CountUnit::Characters);
        assert_eq!(Counter::Uncounted.unit(), CountUnit::Unlimited);
    }
}

//! Measuring one text for one platform: what it counts, the limit, and what is wrong.
//!
//! [`measure`] counts once by the platform's [`CountingRule`] (the table in [`measure`]'s
//! docs) and returns a [`Measurement`] whose [`Measurement::problems`] are plain sentences.

use super::facts::TextFacts;
use super::graphemes::grapheme_count;
use super::limits::PlatformLimits;
use super::mastodon::mastodon_length;
use super::rule::{Counter, CountingRule, Limit};
use super::sms::{sms_info, SmsEncoding, SmsInfo};
use super::{instagram, threads, twitter};
use crate::Platform;
use serde::Serialize;

/// What a platform counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountUnit {
    /// X's twitter-text weighted characters (CJK and emoji weigh 2, URLs 23).
    WeightedCharacters,
    /// Unicode code points (with the platform's own exceptions, e.g. Threads' emoji).
    Characters,
    /// Extended grapheme clusters: what a reader sees as one character.
    Graphemes,
    /// UTF-16 code units (an emoji outside the BMP counts 2).
    Utf16Units,
    /// UTF-8 bytes.
    Bytes,
    /// Billed SMS segments (see [`SmsInfo`]).
    SmsSegments,
    /// GSM 7-bit septets, as a WEA text is counted (see [`crate::wea`]).
    Septets,
    /// No limit; `used` is then the number of characters.
    Unlimited,
}

impl CountUnit {
    /// The unit as it reads after a number: "weighted characters", "SMS segments", ...
    pub fn label(self) -> &'static str {
        match self {
            CountUnit::WeightedCharacters => "weighted characters",
            CountUnit::Characters | CountUnit::Unlimited => "characters",
            CountUnit::Graphemes => "graphemes",
            CountUnit::Utf16Units => "UTF-16 units",
            CountUnit::Bytes => "bytes",
            CountUnit::SmsSegments => "SMS segments",
            CountUnit::Septets => "GSM-7 septets",
        }
    }
}

/// One text measured the way one platform counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measurement {
    /// The platform measured for.
    pub platform: Platform,
    /// How much of the limit the text uses, in `unit`.
    pub used: usize,
    /// The platform's limit in `unit`; None when the platform has no limit.
    pub limit: Option<usize>,
    /// What `used` and `limit` count.
    pub unit: CountUnit,
    /// Encoding and segments, for SMS only.
    pub sms: Option<SmsInfo>,
    /// Hashtags found in the text (not counting `#fragments` of URLs).
    pub hashtags: usize,
    /// Most hashtags the platform allows, if it has a limit (Threads: 1).
    pub max_hashtags: Option<usize>,
    /// Distinct URLs found in the text (the same URL twice counts once, as Threads counts).
    pub links: usize,
    /// Most links the platform allows, if it has a limit (Threads: 5).
    pub max_links: Option<usize>,
    /// @-mentions found in the text, counted only where the platform caps them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentions: Option<usize>,
    /// Most @-mentions the platform allows, if it has a limit (Instagram: 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_mentions: Option<usize>,
    /// The text's size in UTF-8 bytes.
    pub bytes: usize,
    /// A byte cap besides the main limit, if the platform has one (Bluesky: 3,000).
    pub max_bytes: Option<usize>,
}

impl Measurement {
    /// Whether the text can be posted as is: within the length limit, the byte cap, and
    /// the hashtag and link limits.
    pub fn fits(&self) -> bool {
        self.fits_length_and_hashtags() && self.max_links.is_none_or(|m| self.links <= m)
    }

    /// Within the length limit, the byte cap and the hashtag limit (links aside).
    pub(crate) fn fits_length_and_hashtags(&self) -> bool {
        self.limit.is_none_or(|l| self.used <= l)
            && self.max_bytes.is_none_or(|m| self.bytes <= m)
            && self.max_hashtags.is_none_or(|m| self.hashtags <= m)
            && self
                .max_mentions
                .is_none_or(|m| self.mentions.unwrap_or(0) <= m)
    }

    /// Plain-language problems, e.g. "312 of 280 weighted characters: 32 over",
    /// "2 hashtags; Threads allows 1"; empty when it fits.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(limit) = self.limit.filter(|&l| self.used > l) {
            let mut problem = format!(
                "{} of {} {}: {} over",
                self.used,
                limit,
                self.unit.label(),
                self.used - limit
            );
            if let Some(sms) = &self.sms {
                problem.push_str(&format!(
                    " ({}, {} {}, {} per segment)",
                    sms.encoding.label(),
                    sms.units,
                    sms.encoding.unit_label(),
                    sms.per_segment
                ));
                if sms.encoding == SmsEncoding::Ucs2 {
                    problem.push_str("; a character outside GSM-7 forces UCS-2");
                }
            }
            problems.push(problem);
        }
        if let Some(max) = self.max_bytes.filter(|&m| self.bytes > m) {
            problems.push(format!(
                "{} of {} bytes: {} over",
                self.bytes,
                max,
                self.bytes - max
            ));
        }
        if let Some(max) = self.max_hashtags.filter(|&m| self.hashtags > m) {
            problems.push(format!(
                "{}; {} allows {}",
                count_of(self.hashtags, "hashtag", "hashtags"),
                self.platform.display_name(),
                max
            ));
        }
        if let Some(max) = self
            .max_mentions
            .filter(|&m| self.mentions.unwrap_or(0) > m)
        {
            problems.push(format!(
                "{}; {} allows {}",
                count_of(self.mentions.unwrap_or(0), "@-mention", "@-mentions"),
                self.platform.display_name(),
                max
            ));
        }
        if let Some(max) = self.max_links.filter(|&m| self.links > m) {
            problems.push(format!(
                "{}; {} allows {}",
                count_of(self.links, "link", "links"),
                self.platform.display_name(),
                max
            ));
        }
        problems
    }

    /// What is left of the limit (negative when over), or None when there is no limit.
    pub fn remaining(&self) -> Option<i64> {
        let used = i64::try_from(self.used).unwrap_or(i64::MAX);
        self.limit
            .map(|l| i64::try_from(l).unwrap_or(i64::MAX).saturating_sub(used))
    }
}

/// UTF-16 code units: one per character, two for those beyond the BMP (4 UTF-8 bytes).
fn utf16_units(text: &str) -> usize {
    if text.is_ascii() {
        return text.len();
    }
    text.chars().count() + text.bytes().filter(|&b| b >= 0xF0).count()
}

fn count_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Measures `text` the way `platform` counts it, by its `rule` (the platforms' rules
/// are in their descriptors, in `tocsin-connectors`):
///
/// | platform | unit | limit | also |
/// |---|---|---|---|
/// | X | weighted characters (twitter-text v3; URLs 23) | 280 | |
/// | Mastodon | graphemes; `http(s)` URLs 23; `@user@domain` as `@user` | `mastodon_max_characters` | |
/// | Bluesky | graphemes | 300 | 3,000 bytes |
/// | Threads | characters, emoji as their UTF-8 bytes | 500 | 1 hashtag, 5 links |
/// | Instagram | characters | 2,200 | 30 hashtags, 20 @-mentions |
/// | LinkedIn / Facebook / Discord / Slack | characters | 3,000 / 63,206 / 2,000 / 40,000 | |
/// | Telegram | UTF-16 units | 4,096 | |
/// | Teams / Matrix | bytes | 27,000 / 32,000 | |
/// | SMS | segments ([`sms_info`]) | `sms_max_segments` | |
/// | Email, Webhook, Cap, Sandbox | characters | none | |
pub fn measure(
    platform: Platform,
    rule: &CountingRule,
    text: &str,
    limits: &PlatformLimits,
) -> Measurement {
    measure_with(platform, rule, text, limits, &TextFacts::of(text))
}

/// [`measure`] with `text`'s facts already known (see [`TextFacts`]).
pub(crate) fn measure_with(
    platform: Platform,
    rule: &CountingRule,
    text: &str,
    limits: &PlatformLimits,
    facts: &TextFacts,
) -> Measurement {
    let urls: &[std::ops::Range<usize>] = &facts.urls;
    let mut sms = None;
    let used = match rule.counter {
        Counter::TwitterWeighted => twitter::weighted_length_with_urls(text, urls),
        Counter::Mastodon => mastodon_length(text, urls),
        Counter::Graphemes => grapheme_count(text),
        Counter::Threads => threads::threads_length(text),
        Counter::Characters | Counter::Uncounted => text.chars().count(),
        Counter::Utf16Units => utf16_units(text),
        Counter::Bytes => text.len(),
        Counter::SmsSegments => {
            let info = sms_info(text);
            sms = Some(info);
            usize::try_from(info.segments).unwrap_or(usize::MAX)
        }
    };
    let limit = match rule.limit {
        Limit::Fixed(n) => Some(n),
        Limit::MastodonInstance => Some(limits.mastodon_max_characters),
        Limit::SmsSegments => Some(usize::try_from(limits.sms_max_segments).unwrap_or(usize::MAX)),
        Limit::None => None,
    };
    Measurement {
        platform,
        used,
        limit,
        unit: rule.counter.unit(),
        sms,
        hashtags: facts.tags.len(),
        max_hashtags: rule.max_hashtags,
        links: facts.links,
        max_links: rule.max_links,
        mentions: rule
            .max_mentions
            .map(|_| instagram::count_mentions(text, urls)),
        max_mentions: rule.max_mentions,
        bytes: text.len(),
        max_bytes: rule.max_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counting::rule::test_rules;

    fn on(platform: Platform, text: &str) -> Measurement {
        let rule = test_rules().rule(platform);
        measure(platform, &rule, text, &PlatformLimits::default())
    }

    #[test]
    fn x_counts_weighted_characters_against_280() {
        let m = on(Platform::X, &"a".repeat(280));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::WeightedCharacters, 280, Some(280))
        );
        assert!(m.fits());
        let m = on(Platform::X, &"中".repeat(141));
        assert_eq!(m.used, 282);
        assert_eq!(m.problems(), ["282 of 280 weighted characters: 2 over"]);
        assert_eq!(m.remaining(), Some(-2));
    }

    #[test]
    fn the_problem_sentence_reads_used_of_limit_and_how_far_over() {
        let text = format!("{} https://cdc.gov/x", "a".repeat(288));
        let m = on(Platform::X, &text);
        assert_eq!(m.used, 312);
        assert_eq!(m.problems(), ["312 of 280 weighted characters: 32 over"]);
    }

    #[test]
    fn mastodon_uses_the_instance_limit_from_config() {
        let text = "a".repeat(600);
        assert!(!on(Platform::Mastodon, &text).fits());
        let limits = PlatformLimits {
            mastodon_max_characters: 5000,
            ..PlatformLimits::default()
        };
        let m = measure(Platform::Mastodon, &CountingRule::MASTODON, &text, &limits);
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::Graphemes, 600, Some(5000))
        );
        assert!(m.fits());
    }

    #[test]
    fn mastodon_counts_a_remote_mention_as_its_local_part() {
        let m = on(Platform::Mastodon, "Thanks @cdc@health.example.social!");
        assert_eq!(m.used, "Thanks @cdc!".len());
    }

    #[test]
    fn bluesky_counts_300_graphemes_with_flags_and_combining_sequences_as_one() {
        assert!(on(Platform::Bluesky, &"a".repeat(300)).fits());
        assert_eq!(
            on(Platform::Bluesky, &"a".repeat(301)).problems(),
            ["301 of 300 graphemes: 1 over"]
        );
        let m = on(Platform::Bluesky, &"\u{1F1FA}\u{1F1F8}e\u{301}".repeat(150));
        assert_eq!(m.used, 300);
        assert!(m.fits());
    }

    #[test]
    fn bluesky_also_caps_the_text_at_3000_bytes() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        let m = on(Platform::Bluesky, &family.repeat(200));
        assert_eq!(m.used, 200);
        assert_eq!(m.bytes, 25 * 200);
        assert!(!m.fits());
        assert_eq!(m.problems(), ["5000 of 3000 bytes: 2000 over"]);
    }

    #[test]
    fn threads_allows_one_hashtag_and_five_links() {
        let m = on(Platform::Threads, "Heat alert #HeatWave #StayCool");
        assert_eq!((m.hashtags, m.max_hashtags), (2, Some(1)));
        assert_eq!(m.problems(), ["2 hashtags; Threads allows 1"]);
        let five = "a.gov/1 a.gov/2 a.gov/3 a.gov/4 a.gov/5";
        assert!(on(Platform::Threads, five).fits());
        let six = format!("{five} a.gov/6 a.gov/1");
        let m = on(Platform::Threads, &six);
        assert_eq!((m.links, m.max_links), (6, Some(5)));
        assert_eq!(m.problems(), ["6 links; Threads allows 5"]);
    }

    #[test]
    fn threads_counts_500_characters_with_emoji_as_utf8_bytes() {
        let m = on(Platform::Threads, &format!("{}\u{1F525}", "a".repeat(496)));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::Characters, 500, Some(500))
        );
        assert!(m.fits());
        assert!(!on(Platform::Threads, &format!("{}\u{1F525}", "a".repeat(497))).fits());
    }

    #[test]
    fn instagram_captions_take_2200_characters() {
        let m = on(Platform::Instagram, &"é".repeat(2200));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::Characters, 2200, Some(2200))
        );
        assert!(m.fits());
        let m = on(Platform::Instagram, &"é".repeat(2201));
        assert_eq!(m.problems(), ["2201 of 2200 characters: 1 over"]);
    }

    #[test]
    fn instagram_allows_30_hashtags_and_20_mentions_and_says_so_when_over() {
        let tags = |n: usize| {
            (1..=n)
                .map(|i| format!("#tag{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let m = on(Platform::Instagram, &format!("Heat alert {}", tags(30)));
        assert_eq!((m.hashtags, m.max_hashtags), (30, Some(30)));
        assert!(m.fits());
        let m = on(Platform::Instagram, &format!("Heat alert {}", tags(31)));
        assert!(!m.fits());
        assert_eq!(m.problems(), ["31 hashtags; Instagram allows 30"]);

        let names = |n: usize| {
            (1..=n)
                .map(|i| format!("@clinic{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let m = on(Platform::Instagram, &format!("Thanks {}", names(20)));
        assert_eq!((m.mentions, m.max_mentions), (Some(20), Some(20)));
        assert!(m.fits());
        let m = on(Platform::Instagram, &format!("Thanks {}", names(21)));
        assert_eq!(m.problems(), ["21 @-mentions; Instagram allows 20"]);
        // Other platforms do not count mentions at all.
        assert_eq!(on(Platform::Facebook, &names(21)).mentions, None);
    }

    #[test]
    fn character_platforms_count_code_points_against_their_limits() {
        for (platform, limit) in [
            (Platform::Linkedin, 3000),
            (Platform::Facebook, 63_206),
            (Platform::Discord, 2000),
            (Platform::Slack, 40_000),
        ] {
            let m = on(platform, &"é".repeat(limit));
            assert_eq!(
                (m.unit, m.used, m.limit),
                (CountUnit::Characters, limit, Some(limit))
            );
            assert!(m.fits(), "{platform}");
            assert!(!on(platform, &"é".repeat(limit + 1)).fits(), "{platform}");
        }
    }

    #[test]
    fn telegram_counts_utf16_units_so_an_emoji_counts_two() {
        let m = on(Platform::Telegram, &"\u{1F6B0}".repeat(2048));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::Utf16Units, 4096, Some(4096))
        );
        assert!(m.fits());
        assert!(!on(
            Platform::Telegram,
            &format!("{}a", "\u{1F6B0}".repeat(2048))
        )
        .fits());
    }

    #[test]
    fn utf16_units_count_astral_characters_twice() {
        for text in ["", "abc", "é中", "\u{1F6B0}x\u{10348}", "\u{FFFF}\u{10000}"] {
            assert_eq!(utf16_units(text), text.encode_utf16().count(), "{text:?}");
        }
    }

    #[test]
    fn teams_and_matrix_count_utf8_bytes() {
        let m = on(Platform::Teams, &"é".repeat(13_500));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::Bytes, 27_000, Some(27_000))
        );
        assert!(m.fits());
        let m = on(Platform::Matrix, &"é".repeat(16_001));
        assert_eq!((m.used, m.limit), (32_002, Some(32_000)));
        assert_eq!(m.problems(), ["32002 of 32000 bytes: 2 over"]);
    }

    #[test]
    fn email_webhook_cap_and_sandbox_have_no_limit() {
        for platform in [
            Platform::Email,
            Platform::Webhook,
            Platform::Cap,
            Platform::Sandbox,
        ] {
            let m = on(platform, &"a".repeat(100_000));
            assert_eq!(
                (m.unit, m.limit, m.remaining()),
                (CountUnit::Unlimited, None, None)
            );
            assert!(m.fits());
            assert!(m.problems().is_empty());
        }
    }

    #[test]
    fn sms_counts_segments_against_the_configured_maximum() {
        let m = on(Platform::Sms, &"a".repeat(612));
        assert_eq!(
            (m.unit, m.used, m.limit),
            (CountUnit::SmsSegments, 4, Some(4))
        );
        assert!(m.fits());
        let m = on(Platform::Sms, &"a".repeat(613));
        assert_eq!(m.used, 5);
        assert_eq!(
            m.problems(),
            ["5 of 4 SMS segments: 1 over (GSM-7, 613 septets, 153 per segment)"]
        );
        assert_eq!(m.sms.map(|s| s.encoding), Some(SmsEncoding::Gsm7));
    }

    #[test]
    fn an_sms_problem_says_when_ucs2_is_to_blame() {
        let limits = PlatformLimits {
            sms_max_segments: 1,
            ..PlatformLimits::default()
        };
        let m = measure(
            Platform::Sms,
            &CountingRule::SMS,
            &format!("{}’", "a".repeat(70)),
            &limits,
        );
        assert_eq!(
            m.problems(),
            ["2 of 1 SMS segments: 1 over (UCS-2, 71 UTF-16 units, 67 per segment); a character outside GSM-7 forces UCS-2"]
        );
    }

    #[test]
    fn links_and_hashtags_are_counted_on_every_platform() {
        let text = "Boil water: cdc.gov/water https://health.example.gov #BoilWater #Flint";
        for platform in Platform::ALL {
            let m = on(platform, text);
            assert_eq!((m.links, m.hashtags), (2, 2), "{platform}");
        }
    }

    #[test]
    fn remaining_is_the_limit_minus_what_is_used() {
        assert_eq!(on(Platform::X, "hello").remaining(), Some(275));
        assert_eq!(on(Platform::Sms, "hello").remaining(), Some(3));
    }

    #[test]
    fn labels_read_as_plain_words() {
        assert_eq!(CountUnit::WeightedCharacters.label(), "weighted characters");
        assert_eq!(CountUnit::SmsSegments.label(), "SMS segments");
        assert_eq!(CountUnit::Utf16Units.label(), "UTF-16 units");
    }

    #[test]
    fn a_measurement_serialises_with_snake_case_units() {
        let json = serde_json::to_value(on(Platform::Sms, "hi")).unwrap();
        assert_eq!(json["unit"], "sms_segments");
        assert_eq!(json["platform"], "sms");
        assert_eq!(json["sms"]["encoding"], "gsm7");
    }
}

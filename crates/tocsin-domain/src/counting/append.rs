//! Appending a session's hashtags to a post, within each platform's limits.
//!
//! Tags go on in the order given; a tag that would break the length or hashtag limit is
//! dropped and the next one is still tried, so a short tag may follow a long one that did
//! not fit. Tags already in the text (any case) are not repeated.

use super::facts::TextFacts;
use super::hashtags;
use super::limits::PlatformLimits;
use super::measure::measure_with;
use super::rule::CountingRule;
use crate::Platform;

/// The result of [`append_hashtags`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashtagAppend {
    /// The text with the appended hashtags.
    pub text: String,
    /// Tags appended, without `#`, in order.
    pub appended: Vec<String>,
    /// Tags left out, without `#`: they did not fit, or are not a valid hashtag (`2024`,
    /// `two words`). Tags already present in the text are in neither list.
    pub dropped: Vec<String>,
}

/// Appends `#tag`s (given without '#') to `text`, each after a single space (or directly
/// after the newline a text ends with), only while the result still fits the platform's
/// length limit and hashtag limit; tags already present in the text (case-insensitive)
/// are not repeated.
///
/// Precisely: a tag is preceded by one space, or by nothing when the text so far is empty
/// or ends in whitespace, so a text ending in a newline gets its tags on a line of their
/// own (`"…\n#a #b"`). Tags are tried in order; one that does not fit is dropped and the
/// next is still tried. A leading `#` on a given tag is tolerated. "Fits" means the length
/// limit (and Bluesky's byte cap) and the hashtag limit; links are left to the caller,
/// since tags never add any. A text that does not fit to begin with gets no tags.
pub fn append_hashtags(
    platform: Platform,
    rule: &CountingRule,
    text: &str,
    hashtags: &[String],
    limits: &PlatformLimits,
) -> HashtagAppend {
    if hashtags.is_empty() {
        return HashtagAppend {
            text: text.to_owned(),
            appended: Vec::new(),
            dropped: Vec::new(),
        };
    }
    let room: usize = hashtags.iter().map(|t| t.len() + 2).sum();
    let mut out = String::with_capacity(text.len() + room);
    out.push_str(text);
    let mut appended: Vec<String> = Vec::new();
    let mut dropped = Vec::new();

    // Scan the text once. Appending " #tag" (after whitespace, with a valid tag) leaves
    // every URL as it was and adds exactly one hashtag, so each candidate is only counted,
    // not rescanned (the property tests check this against a full `measure`).
    let mut facts = TextFacts::of(text);
    let present = facts.tags.clone();
    let is_present = |tag: &str, appended: &[String]| {
        present.iter().any(|r| {
            let existing = text.get(r.clone()).unwrap_or("");
            same_tag(existing.trim_start_matches(['#', '＃']), tag)
        }) || appended.iter().any(|a| same_tag(a, tag))
    };

    for given in hashtags {
        let tag = given.trim().trim_start_matches(['#', '＃']);
        if is_present(tag, &appended) {
            continue;
        }
        if !hashtags::is_valid_tag(tag) {
            dropped.push(tag.to_owned());
            continue;
        }
        let before = out.len();
        if !(out.is_empty() || out.ends_with(char::is_whitespace)) {
            out.push(' ');
        }
        let hash = out.len();
        out.push('#');
        out.push_str(tag);
        facts.tags.push(hash..out.len());
        if measure_with(platform, rule, &out, limits, &facts).fits_length_and_hashtags() {
            appended.push(tag.to_owned());
        } else {
            out.truncate(before);
            facts.tags.pop();
            dropped.push(tag.to_owned());
        }
    }
    if !appended.is_empty() {
        // The caller usually measures the result next: spare it the rescan.
        facts.remember(&out);
    }
    HashtagAppend {
        text: out,
        appended,
        dropped,
    }
}

/// Whether two tags (without `#`) are the same, ignoring case.
fn same_tag(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counting::measure;
    use crate::counting::rule::test_rules;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn append(platform: Platform, text: &str, list: &[&str]) -> HashtagAppend {
        let rule = test_rules().rule(platform);
        append_hashtags(
            platform,
            &rule,
            text,
            &tags(list),
            &PlatformLimits::default(),
        )
    }

    #[test]
    fn tags_are_appended_after_a_single_space() {
        let r = append(
            Platform::Mastodon,
            "Knee replacement under way.",
            &["stvknee", "OR"],
        );
        assert_eq!(r.text, "Knee replacement under way. #stvknee #OR");
        assert_eq!(r.appended, ["stvknee", "OR"]);
        assert!(r.dropped.is_empty());
    }

    #[test]
    fn a_text_ending_in_a_newline_gets_its_tags_on_the_new_line() {
        let r = append(Platform::Mastodon, "Update 3\n", &["stvknee", "ortho"]);
        assert_eq!(r.text, "Update 3\n#stvknee #ortho");
    }

    #[test]
    fn tags_already_in_the_text_are_not_repeated_whatever_their_case() {
        let r = append(
            Platform::X,
            "Live from the OR #StVKnee",
            &["stvknee", "ortho", "ORTHO"],
        );
        assert_eq!(r.text, "Live from the OR #StVKnee #ortho");
        assert_eq!(r.appended, ["ortho"]);
        assert!(r.dropped.is_empty());
    }

    #[test]
    fn a_tag_that_does_not_fit_is_dropped_and_a_shorter_later_one_still_goes_on() {
        let text = "a".repeat(270);
        let r = append(Platform::X, &text, &["waytoolongforit", "knee", "ok"]);
        assert_eq!(r.text, format!("{text} #knee #ok"));
        assert_eq!(r.appended, ["knee", "ok"]);
        assert_eq!(r.dropped, ["waytoolongforit"]);
        assert_eq!(
            measure(
                Platform::X,
                &CountingRule::X,
                &r.text,
                &PlatformLimits::default()
            )
            .used,
            280
        );
    }

    #[test]
    fn threads_gets_only_one_hashtag() {
        let r = append(
            Platform::Threads,
            "Heat advisory today.",
            &["HeatWave", "StayCool"],
        );
        assert_eq!(r.text, "Heat advisory today. #HeatWave");
        assert_eq!(r.dropped, ["StayCool"]);
        let r = append(Platform::Threads, "Already tagged #Heat", &["StayCool"]);
        assert_eq!(r.text, "Already tagged #Heat");
        assert_eq!(r.dropped, ["StayCool"]);
    }

    #[test]
    fn sms_tags_stop_at_the_segment_limit() {
        let limits = PlatformLimits {
            sms_max_segments: 1,
            ..PlatformLimits::default()
        };
        let text = "a".repeat(150);
        let r = append_hashtags(
            Platform::Sms,
            &CountingRule::SMS,
            &text,
            &tags(&["flu", "measles"]),
            &limits,
        );
        assert_eq!(r.appended, ["flu"]);
        assert_eq!(r.dropped, ["measles"]);
    }

    #[test]
    fn invalid_tags_are_dropped_and_a_leading_hash_is_tolerated() {
        let r = append(
            Platform::Mastodon,
            "Alert",
            &["2024", "two words", "#heat", ""],
        );
        assert_eq!(r.text, "Alert #heat");
        assert_eq!(r.appended, ["heat"]);
        assert_eq!(r.dropped, ["2024", "two words", ""]);
    }

    #[test]
    fn non_ascii_tags_compare_without_case() {
        let r = append(
            Platform::Mastodon,
            "Hitze #HITZEWELLE",
            &["hitzewelle", "Ärzte", "ärzte"],
        );
        assert_eq!(r.text, "Hitze #HITZEWELLE #Ärzte");
        assert!(same_tag("ΣΊΣΥΦΟΣ", "σίσυφοσ"));
    }

    #[test]
    fn a_text_that_does_not_fit_gets_no_tags() {
        let text = "a".repeat(281);
        let r = append(Platform::X, &text, &["a"]);
        assert_eq!(r.text, text);
        assert_eq!(r.dropped, ["a"]);
    }

    #[test]
    fn an_empty_text_becomes_just_the_tags() {
        let r = append(Platform::Bluesky, "", &["flu", "shots"]);
        assert_eq!(r.text, "#flu #shots");
    }

    #[test]
    fn unlimited_platforms_take_every_valid_tag() {
        let r = append(Platform::Email, "Hi", &["a", "b", "c"]);
        assert_eq!(r.text, "Hi #a #b #c");
    }
}

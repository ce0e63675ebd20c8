//! Property tests of the counting rules over arbitrary text.
//!
//! They pin the invariants the rest of Tocsin relies on: measuring never panics, ranges
//! are sound, counts move the right way, and appending hashtags never breaks a fit.

use super::links;
use super::rule::test_rules;
use super::*;
use crate::Platform;
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

/// Text mixing ASCII, accents, CJK, emoji parts, joiners, URL-ish punctuation and, with
/// `arbitrary`, any character at all.
fn messy_text_of(arbitrary: bool) -> impl Strategy<Value = String> {
    let any_char = if arbitrary {
        any::<char>().prop_map(String::from).boxed()
    } else {
        Just(String::new()).boxed()
    };
    let pieces = prop_oneof![
        "[a-zA-Z0-9 .,:/#@?&()_-]{0,12}",
        Just("https://".to_string()),
        Just("cdc.gov".to_string()),
        Just("@a@b.org ".to_string()),
        Just("#flu ".to_string()),
        Just("\u{1F468}\u{200D}\u{1F469}".to_string()),
        Just("\u{1F1FA}\u{1F1F8}".to_string()),
        Just("1\u{FE0F}\u{20E3}".to_string()),
        Just("\u{2764}\u{FE0F}\u{1F3FD}".to_string()),
        Just("e\u{301}".to_string()),
        Just("€{}".to_string()),
        Just("\r\n".to_string()),
        "[éüñ中文ж’…]{0,4}",
        any_char,
    ];
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

fn messy_text() -> impl Strategy<Value = String> {
    messy_text_of(true)
}

/// Text with no URL, no emoji sequence and no joiner: each code point weighs 1 or 2.
fn plain_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,;!?éßøΔжש中文한글…€]{0,200}"
}

fn tag() -> impl Strategy<Value = String> {
    "[a-zA-Zéж中][a-zA-Z0-9_éж中]{0,15}"
}

fn assert_sound_ranges(text: &str, ranges: &[std::ops::Range<usize>]) {
    let mut last_end = 0;
    for r in ranges {
        assert!(r.start < r.end, "empty range {r:?}");
        assert!(r.start >= last_end, "overlapping or unsorted {ranges:?}");
        assert!(
            text.get(r.clone()).is_some(),
            "{r:?} is not on char boundaries"
        );
        last_end = r.end;
    }
}

proptest! {
    // No failure persistence: the regressions file would land outside this module.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn measure_never_panics_on_arbitrary_strings(text in any::<String>()) {
        for platform in Platform::ALL {
            let m = measure(platform, &test_rules().rule(platform), &text, &PlatformLimits::default());
            prop_assert_eq!(m.fits(), m.problems().is_empty());
        }
    }

    #[test]
    fn measure_never_panics_on_messy_text(text in messy_text()) {
        for platform in Platform::ALL {
            let m = measure(platform, &test_rules().rule(platform), &text, &PlatformLimits::default());
            prop_assert_eq!(m.fits(), m.problems().is_empty());
            prop_assert_eq!(m.remaining().is_some(), m.limit.is_some());
        }
    }

    #[test]
    fn url_and_hashtag_ranges_are_sorted_disjoint_and_on_char_boundaries(text in messy_text()) {
        assert_sound_ranges(&text, &find_urls(&text));
        assert_sound_ranges(&text, &find_hashtags(&text));
        for h in find_hashtags(&text) {
            prop_assert!(find_urls(&text).iter().all(|u| u.end <= h.start || h.end <= u.start));
        }
    }

    #[test]
    fn the_dot_anchored_url_scan_finds_what_trying_every_position_finds(text in messy_text()) {
        let mut reference = Vec::new();
        links::for_each_url_reference(&text, |r| reference.push(r));
        prop_assert_eq!(find_urls(&text), reference);
    }

    #[test]
    fn emoji_aware_counts_match_a_character_by_character_walk(text in messy_text()) {
        // The plain walk both counts are defined by, without the ASCII-run shortcut.
        let walk = |sequence: &dyn Fn(usize) -> usize, single: &dyn Fn(char) -> usize| {
            let (mut total, mut pos) = (0, 0);
            while let Some(rest) = text.get(pos..).filter(|r| !r.is_empty()) {
                if let Some(len) = super::emoji::sequence_len(rest) {
                    total += sequence(len);
                    pos += len;
                } else if let Some(c) = rest.chars().next() {
                    total += single(c);
                    pos += c.len_utf8();
                }
            }
            total
        };
        let weight = |c: char| match u32::from(c) {
            0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
            _ => 2,
        };
        if find_urls(&text).is_empty() {
            prop_assert_eq!(twitter_weighted_length(&text), walk(&|_| 2, &weight));
        }
        let threads_single = |c: char| {
            if super::emoji::is_pictographic(c) { c.len_utf8() } else { 1 }
        };
        prop_assert_eq!(
            super::threads::threads_length(&text),
            walk(&|len| len, &threads_single)
        );
    }

    #[test]
    fn weighted_length_is_at_least_the_code_point_count_for_text_without_urls_or_emoji(
        text in plain_text()
    ) {
        let chars = text.chars().count();
        let weighted = twitter_weighted_length(&text);
        prop_assert!(weighted >= chars);
        prop_assert!(weighted <= 2 * chars);
    }

    #[test]
    fn weighted_length_is_at_least_the_grapheme_count_when_there_are_no_urls(
        text in messy_text_of(false).prop_filter("no URLs", |t| find_urls(t).is_empty())
    ) {
        prop_assert!(twitter_weighted_length(&text) >= text.graphemes(true).count());
    }

    #[test]
    fn sms_segments_never_decrease_as_text_grows(text in messy_text(), extra in any::<char>()) {
        let before = sms_info(&text);
        let after = sms_info(&format!("{text}{extra}"));
        // Units may shrink when a non-GSM character turns septets into UTF-16 units;
        // segments may not, since UCS-2 segments hold fewer characters.
        prop_assert!(after.segments >= before.segments);
    }

    #[test]
    fn sms_segments_hold_at_most_their_per_segment_units(text in messy_text()) {
        let info = sms_info(&text);
        let capacity = info.per_segment * usize::try_from(info.segments).unwrap();
        prop_assert!(info.units <= capacity);
    }

    #[test]
    fn the_grapheme_fast_path_agrees_with_unicode_segmentation(text in messy_text()) {
        prop_assert_eq!(
            super::graphemes::grapheme_count(&text),
            text.graphemes(true).count()
        );
    }

    #[test]
    fn grapheme_count_is_at_most_the_char_count(text in any::<String>()) {
        let m = measure(Platform::Bluesky, &CountingRule::BLUESKY, &text, &PlatformLimits::default());
        prop_assert!(m.used <= text.chars().count());
    }

    #[test]
    fn counting_an_appended_tag_with_the_base_texts_facts_equals_measuring_it_afresh(
        text in messy_text(),
        tag in tag(),
        platform in prop::sample::select(Platform::ALL.to_vec()),
    ) {
        let limits = PlatformLimits::default();
        let rule = test_rules().rule(platform);
        let mut facts = super::facts::TextFacts::scan(&text);
        let separator = if text.is_empty() || text.ends_with(char::is_whitespace) { "" } else { " " };
        let candidate = format!("{text}{separator}#{tag}");
        facts.tags.push(candidate.len() - tag.len() - 1..candidate.len());
        prop_assert_eq!(&facts, &super::facts::TextFacts::scan(&candidate));
        prop_assert_eq!(
            super::measure::measure_with(platform, &rule, &candidate, &limits, &facts),
            super::measure::measure_with(
                platform, &rule, &candidate, &limits, &super::facts::TextFacts::scan(&candidate)
            )
        );
    }

    #[test]
    fn a_tag_is_valid_exactly_when_it_is_one_whole_hashtag_after_a_space(
        tag in "[a-z0-9_#. \u{301}\u{200D}é中-]{0,6}"
    ) {
        let text = format!(" #{tag}");
        let whole = matches!(find_hashtags(&text).as_slice(), [r] if *r == (1..text.len()));
        prop_assert_eq!(super::hashtags::is_valid_tag(&tag), whole);
    }

    #[test]
    fn memoised_facts_equal_freshly_scanned_facts(texts in prop::collection::vec(messy_text(), 1..8)) {
        for text in texts.iter().chain(texts.iter()) {
            prop_assert_eq!(super::facts::TextFacts::of(text), super::facts::TextFacts::scan(text));
        }
    }

    #[test]
    fn appending_hashtags_never_makes_a_fitting_text_not_fit(
        text in messy_text(),
        tags in prop::collection::vec(tag(), 0..6),
        platform in prop::sample::select(Platform::ALL.to_vec()),
        segments in 1u32..3,
    ) {
        let limits = PlatformLimits { mastodon_max_characters: 120, sms_max_segments: segments };
        let rule = test_rules().rule(platform);
        let before = measure(platform, &rule, &text, &limits);
        let result = append_hashtags(platform, &rule, &text, &tags, &limits);
        let after = measure(platform, &rule, &result.text, &limits);
        if before.fits() {
            prop_assert!(after.fits(), "{:?}", after.problems());
        }
        prop_assert!(result.text.starts_with(&text));
        prop_assert!(result.appended.len() + result.dropped.len() <= tags.len());
        for t in &result.appended {
            let hashtag = format!("#{t}");
            prop_assert!(result.text.contains(&hashtag));
        }
    }
}

//! X's weighted length, per the twitter-text v3 configuration (`config/v3.json`).
//!
//! Scale 100, default weight 200; code points in 0–4351, 8192–8205, 8208–8223 and
//! 8242–8247 weigh 100; `emojiParsingEnabled` makes an emoji sequence weigh 200 as a
//! whole; every URL (`transformedURLLength`) counts 23. Limit 280.

use super::emoji::{self, Piece};
use super::links;
use std::ops::Range;

/// X's limit, in weighted characters (`maxWeightedTweetLength`).
pub(crate) const MAX_WEIGHTED_LENGTH: usize = 280;
/// What every URL counts on X and Mastodon (`transformedURLLength`).
pub(crate) const URL_LENGTH: usize = 23;
/// What an emoji sequence weighs (`defaultWeight` / `scale`).
const EMOJI_WEIGHT: usize = 2;

/// twitter-text weighted length (v3 config): code points in ranges 0-4351, 8192-8205,
/// 8208-8223, 8242-8247 weigh 1 (weight 100 of scale 100), all others weigh 2; emoji
/// sequences count 2 as a whole; every URL counts 23.
///
/// Verified against twitter-text's `config/v3.json` and its `validate.yml` conformance
/// cases (`WeightedTweetsWithDiscountedEmojiCounterTest`). Unlike twitter-text, the text is
/// not NFC-normalised first: a decomposed accent (`e` + U+0301) counts 2 here where X
/// counts 1, so this can only over-count ordinary text.
pub fn twitter_weighted_length(text: &str) -> usize {
    weighted_length_with_urls(text, &links::find_urls(text))
}

/// [`twitter_weighted_length`] with the URLs already found.
pub(crate) fn weighted_length_with_urls(text: &str, urls: &[Range<usize>]) -> usize {
    let mut total = 0;
    let mut pos = 0;
    for url in urls {
        total += weigh_plain(text.get(pos..url.start).unwrap_or(""));
        total += URL_LENGTH;
        pos = url.end;
    }
    total + weigh_plain(text.get(pos..).unwrap_or(""))
}

/// The weighted length of text holding no URL.
fn weigh_plain(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    let mut total = 0;
    emoji::for_each_piece(s, |piece| {
        total += match piece {
            Piece::Ascii(n) => n,
            Piece::Sequence(_) => EMOJI_WEIGHT,
            Piece::Char(c) => code_point_weight(c),
        }
    });
    total
}

/// A single code point's weight from the v3 `ranges`.
fn code_point_weight(c: char) -> usize {
    match u32::from(c) {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from twitter-text conformance/validate.yml,
    // WeightedTweetsWithDiscountedEmojiCounterTest (the v3 configuration).

    #[test]
    fn a_regular_tweet_with_a_url_weighs_26() {
        assert_eq!(twitter_weighted_length("Hi http://test.co"), 26);
        assert_eq!(twitter_weighted_length("http://test.co"), 23);
    }

    #[test]
    fn a_url_counts_23_on_x_whatever_its_length() {
        let long = "https://www.cdc.gov/measles/exposure/notice-to-travelers-2024-05.html";
        assert_eq!(twitter_weighted_length(long), 23);
        assert_eq!(twitter_weighted_length("t.co/a"), 23);
        assert_eq!(twitter_weighted_length("see cdc.gov"), 4 + 23);
    }

    #[test]
    fn ten_urls_with_trailing_spaces_weigh_240() {
        let text = "https://www.twitter.com/aloha ".repeat(10);
        assert_eq!(twitter_weighted_length(&text), 240);
    }

    #[test]
    fn a_url_in_the_middle_of_a_long_tweet_weighs_23() {
        let text = format!(
            "285 chars- http://www.twitter.com/jack {}",
            "xxxxxxxxxx-".repeat(24)
        );
        assert_eq!(twitter_weighted_length(&text), 299);
    }

    #[test]
    fn urls_with_overlong_domain_labels_count_their_full_length() {
        let bad = format!("https://{}.com/foo ", "somesuperlongurl".repeat(249));
        let text = format!(
            "Long url with invalid domain labels and a short url: {}https://validurl.com",
            bad.repeat(3)
        );
        assert_eq!(twitter_weighted_length(&text), 12079);
        let domain = format!("{}s.com", "randomurl".repeat(7));
        assert_eq!(twitter_weighted_length(&domain), 68);
    }

    #[test]
    fn cjk_characters_weigh_two_each() {
        let poem = "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，乌衣巷口夕阳斜。旧时王谢堂前燕，飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。泪湿罗巾梦不成，夜深前殿按歌声。红颜未老恩先断，斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。";
        assert_eq!(poem.chars().count(), 160);
        assert_eq!(twitter_weighted_length(poem), 320);
        assert_eq!(twitter_weighted_length(&format!("the{poem}")), 323);
    }

    #[test]
    fn emoji_weigh_two_each() {
        assert_eq!(twitter_weighted_length(&"\u{1F637}".repeat(160)), 320);
        assert_eq!(
            twitter_weighted_length("\u{1F637}\u{1F47E}\u{1F621}\u{1F525}\u{1F4A9}"),
            10
        );
    }

    #[test]
    fn an_emoji_sequence_weighs_two_as_a_whole() {
        // "H🐱☺👨‍👩‍👧‍👦": 1 + 2 + 2 + 2.
        let text = "H\u{1F431}\u{263A}\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        assert_eq!(twitter_weighted_length(text), 7);
        // "🙋🏽👨‍🎤": a skin-toned emoji and a ZWJ sequence.
        assert_eq!(
            twitter_weighted_length("\u{1F64B}\u{1F3FD}\u{1F468}\u{200D}\u{1F3A4}"),
            4
        );
        assert_eq!(twitter_weighted_length("\u{1F1FA}\u{1F1F8}"), 2, "a flag");
        assert_eq!(twitter_weighted_length("1\u{FE0F}\u{20E3}"), 2, "a keycap");
    }

    #[test]
    fn general_punctuation_in_the_weight_one_ranges_weighs_one() {
        let text = "This is a tweet with general punctuation characters: \u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200A}\u{200B} ‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷";
        assert_eq!(twitter_weighted_length(text), 110);
    }

    #[test]
    fn latin_and_accented_text_weighs_one_per_character() {
        assert_eq!(twitter_weighted_length("ÁB"), 2);
        assert_eq!(twitter_weighted_length("Ærø café"), 8);
        assert_eq!(twitter_weighted_length(""), 0);
    }

    #[test]
    fn symbols_outside_the_ranges_weigh_two() {
        assert_eq!(twitter_weighted_length("€"), 2, "U+20AC is above 8247");
        assert_eq!(
            twitter_weighted_length("…"),
            2,
            "U+2026 is between the ranges"
        );
        assert_eq!(twitter_weighted_length("©"), 1, "text-style © is in 0-4351");
        assert_eq!(
            twitter_weighted_length("©\u{FE0F}"),
            2,
            "emoji-style © is an emoji"
        );
    }
}

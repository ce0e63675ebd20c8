//! Which languages an account posts in, and how: what a bilingual county's accounts need.
//!
//! An account lists the languages it posts (`en`, or `en, es`). For each message, each of
//! those languages is the message's text in that language; a language the message does
//! not have is replaced by the playbook's first (primary) language, once. With several
//! texts the account either posts them in one post, one after the other, where the
//! platform's limit allows (`together`; otherwise it falls back to separate posts), or
//! posts one per language (`separate`, the default): the first as the post, each next one
//! as a reply to it, so Spanish follows English in the same thread.

use std::collections::BTreeMap;

use crate::counting::{measure, CountingRule, PlatformLimits};
use crate::language::LanguageTag;
use crate::playbook::{LanguageText, TextTarget, VariantTarget};
use crate::Platform;

/// How an account posts several languages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LanguagePosts {
    /// One post per language, each next one a reply to the first (the default).
    #[default]
    Separate,
    /// One post holding every language, where the platform's limit allows.
    Together,
}

impl LanguagePosts {
    /// The stored and typed name: `separate` or `together`.
    pub fn as_str(self) -> &'static str {
        match self {
            LanguagePosts::Separate => "separate",
            LanguagePosts::Together => "together",
        }
    }

    /// Reads `separate` or `together`.
    pub fn parse(text: &str) -> Result<LanguagePosts, String> {
        match text.trim() {
            "separate" => Ok(LanguagePosts::Separate),
            "together" => Ok(LanguagePosts::Together),
            other => Err(format!(
                "language_posts is `separate` or `together`, not `{other}`"
            )),
        }
    }
}

/// The languages an account posts, in order, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AccountLanguages {
    /// The languages, first to last; empty: the playbook's primary language only.
    pub languages: Vec<LanguageTag>,
    /// One post per language or one post for all.
    pub posts: LanguagePosts,
}

/// What goes between two languages' texts in one post.
pub const TOGETHER_SEPARATOR: &str = "\n\n";

/// The most languages an account may post.
pub const MAX_ACCOUNT_LANGUAGES: usize = 4;

impl AccountLanguages {
    /// Reads a list of tags (`en, es` or `en es`) and the posting mode. Refuses a bad tag
    /// (naming it), a tag given twice and more than [`MAX_ACCOUNT_LANGUAGES`].
    pub fn parse(list: &str, posts: &str) -> Result<AccountLanguages, String> {
        let mut languages: Vec<LanguageTag> = Vec::new();
        for part in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
        {
            let tag = LanguageTag::parse(part).map_err(|e| format!("languages: {e}"))?;
            if languages.contains(&tag) {
                return Err(format!("languages: `{tag}` is listed twice"));
            }
            languages.push(tag);
        }
        if languages.len() > MAX_ACCOUNT_LANGUAGES {
            return Err(format!(
                "languages: at most {MAX_ACCOUNT_LANGUAGES} languages per account, not {}",
                languages.len()
            ));
        }
        Ok(AccountLanguages {
            languages,
            posts: LanguagePosts::parse(posts)?,
        })
    }

    /// The stored list: tags joined by commas (`en,es`; empty for the primary only).
    pub fn list(&self) -> String {
        self.languages
            .iter()
            .map(LanguageTag::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Which of a message's texts this account posts on `platform`, in order: each of its
    /// languages that the message has, a language it lacks replaced by the primary one,
    /// each text once. Never empty: the primary text when the account lists nothing.
    pub fn texts_for(
        &self,
        platform: Platform,
        texts: &BTreeMap<TextTarget, String>,
    ) -> Vec<TextTarget> {
        let variant = VariantTarget::Platform(platform);
        let primary = TextTarget::Variant(variant);
        let mut chosen: Vec<TextTarget> = Vec::new();
        for language in &self.languages {
            let own = TextTarget::InLanguage(*language, LanguageText::Variant(variant));
            let target = if texts.contains_key(&own) {
                own
            } else {
                primary
            };
            if !chosen.contains(&target) {
                chosen.push(target);
            }
        }
        if chosen.is_empty() {
            chosen.push(primary);
        }
        chosen
    }

    /// The posts this account makes of a message on `platform`: one text per post, the
    /// first the post and each next one a reply to it. Texts the message lacks are left
    /// out; `together` joins the texts when the joined text fits `rule` (measured with
    /// `limits`), and otherwise posts them separately.
    pub fn posts_for(
        &self,
        platform: Platform,
        texts: &BTreeMap<TextTarget, String>,
        rule: &CountingRule,
        limits: &PlatformLimits,
    ) -> Vec<LanguagePost> {
        let parts: Vec<LanguagePost> = self
            .texts_for(platform, texts)
            .into_iter()
            .filter_map(|target| {
                texts.get(&target).map(|text| LanguagePost {
                    part: part_name(target),
                    text: text.clone(),
                })
            })
            .collect();
        if self.posts == LanguagePosts::Together && parts.len() > 1 {
            let joined = parts
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join(TOGETHER_SEPARATOR);
            if measure(platform, rule, &joined, limits).fits() {
                let part = parts
                    .iter()
                    .map(|p| p.part.as_str())
                    .collect::<Vec<_>>()
                    .join("+");
                return vec![LanguagePost { part, text: joined }];
            }
        }
        parts
    }
}

/// One post an account makes of a message, in one or more languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguagePost {
    /// Its name in the delivery's record of parts: `language:primary`, `language:es`, or
    /// joined texts' names with `+`.
    pub part: String,
    /// The text.
    pub text: String,
}

fn part_name(target: TextTarget) -> String {
    match target.language() {
        Some(language) => format!("language:{language}"),
        None => "language:primary".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(t: &str) -> LanguageTag {
        LanguageTag::parse(t).expect("a tag")
    }

    fn texts(entries: &[(TextTarget, &str)]) -> BTreeMap<TextTarget, String> {
        entries
            .iter()
            .map(|(t, s)| (*t, (*s).to_string()))
            .collect()
    }

    fn x() -> TextTarget {
        TextTarget::Variant(VariantTarget::Platform(Platform::X))
    }

    fn x_in(l: &str) -> TextTarget {
        TextTarget::InLanguage(
            tag(l),
            LanguageText::Variant(VariantTarget::Platform(Platform::X)),
        )
    }

    #[test]
    fn parses_lists_and_refuses_bad_ones_naming_them() {
        let l = AccountLanguages::parse("en, es", "separate").expect("valid");
        assert_eq!(l.languages, vec![tag("en"), tag("es")]);
        assert_eq!(l.list(), "en,es");
        assert_eq!(
            AccountLanguages::parse("", "together").expect("valid"),
            AccountLanguages {
                languages: vec![],
                posts: LanguagePosts::Together
            }
        );
        let e = AccountLanguages::parse("en, e_s", "separate").expect_err("bad tag");
        assert!(e.contains("e_s"), "{e}");
        let e = AccountLanguages::parse("en es en", "separate").expect_err("twice");
        assert!(e.contains("twice"), "{e}");
        let e = AccountLanguages::parse("en", "both").expect_err("bad mode");
        assert!(e.contains("both"), "{e}");
        let e = AccountLanguages::parse("en es fr de vi", "separate").expect_err("too many");
        assert!(e.contains("at most 4"), "{e}");
    }

    #[test]
    fn each_language_is_its_own_text_and_a_missing_one_is_the_primary_once() {
        let both = texts(&[(x(), "Boil water."), (x_in("es"), "Hierva el agua.")]);
        let account = AccountLanguages::parse("en, es", "separate").expect("valid");
        assert_eq!(account.texts_for(Platform::X, &both), vec![x(), x_in("es")]);
        // Spanish only: the Spanish text alone.
        let spanish = AccountLanguages::parse("es", "separate").expect("valid");
        assert_eq!(spanish.texts_for(Platform::X, &both), vec![x_in("es")]);
        // A message in English only: one English post, not two.
        let english = texts(&[(x(), "Boil water.")]);
        assert_eq!(account.texts_for(Platform::X, &english), vec![x()]);
        // Vietnamese missing, Spanish present: the primary stands in for Vietnamese.
        let vi_es = AccountLanguages::parse("vi, es", "separate").expect("valid");
        assert_eq!(vi_es.texts_for(Platform::X, &both), vec![x(), x_in("es")]);
        // Nothing listed: the primary.
        assert_eq!(
            AccountLanguages::default().texts_for(Platform::X, &both),
            vec![x()]
        );
    }

    #[test]
    fn together_joins_when_it_fits_and_falls_back_to_separate_posts() {
        let account = AccountLanguages::parse("en, es", "together").expect("valid");
        let limits = PlatformLimits::default();
        let short = texts(&[(x(), "Boil water."), (x_in("es"), "Hierva el agua.")]);
        let posts = account.posts_for(Platform::X, &short, &CountingRule::X, &limits);
        assert_eq!(
            posts,
            vec![LanguagePost {
                part: "language:primary+language:es".into(),
                text: "Boil water.\n\nHierva el agua.".into()
            }]
        );
        let long_en = "a".repeat(200);
        let long_es = "b".repeat(200);
        let long = texts(&[(x(), &long_en), (x_in("es"), &long_es)]);
        let posts = account.posts_for(Platform::X, &long, &CountingRule::X, &limits);
        assert_eq!(posts.len(), 2, "over 280 together: two posts");
        assert_eq!(posts[0].part, "language:primary");
        assert_eq!(posts[1].part, "language:es");
        assert_eq!(posts[1].text, long_es);
        let separate = AccountLanguages::parse("en, es", "separate").expect("valid");
        assert_eq!(
            separate
                .posts_for(Platform::X, &short, &CountingRule::X, &limits)
                .len(),
            2
        );
    }
}

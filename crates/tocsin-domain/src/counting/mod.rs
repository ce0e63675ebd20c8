//! Per-platform length counting: each rendered variant measured the way its platform counts.
//!
//! [`measure`] returns a [`Measurement`] (used, limit, unit, hashtags, links, problems) by
//! a platform's [`CountingRule`], a value its descriptor holds; the submodules each hold
//! one algorithm: X's weighted length, SMS segments, Threads' and Mastodon's counting,
//! Instagram's @-mentions, URL and hashtag detection, and [`append_hashtags`].

mod append;
mod emoji;
mod facts;
mod graphemes;
mod hashtags;
mod instagram;
mod limits;
mod links;
mod mastodon;
mod measure;
mod rule;
mod sms;
mod threads;
mod tlds;
mod twitter;

#[cfg(test)]
mod proptests;

pub use append::{append_hashtags, HashtagAppend};
pub use hashtags::find_hashtags;
pub use limits::PlatformLimits;
pub use links::find_urls;
pub use measure::{measure, CountUnit, Measurement};
#[cfg(test)]
pub(crate) use rule::test_rules;
pub use rule::{Counter, CountingRule, CountingRules, Limit};
pub(crate) use sms::gsm7_septets;
pub use sms::{sms_info, SmsEncoding, SmsInfo};
pub use twitter::twitter_weighted_length;

//! The connectors' conformance suite: every connector in `tocsin_connectors::ALL`, built
//! by its descriptor, runs the same cases against its fake platform (a 5xx, refused
//! credentials, a malformed answer, each rate-limit dialect, an answer lost after the
//! post was made, lookup and delete of a missing post, a hostile post id, threads, a
//! live session's chain of updates, idempotency keys, and a post with images), so a failure is classified
//! alike everywhere and no connector can skip a case. A platform's own behaviour stays in its `src/<platform>/tests.rs`.

// Test code: a broken fixture should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cases;
mod subject;

/// Each named case of [`cases`] as a test of one subject.
macro_rules! case_tests {
    ($subject:ty: $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                crate::cases::$case::<$subject>().await;
            }
        )+
    };
}

/// The suite's cases as tests of one subject (a module per platform).
macro_rules! conformance {
    ($subject:ty) => {
        crate::case_tests!($subject:
            a_server_error_is_transient_and_posts_nothing,
            refused_credentials_are_an_auth_error_that_never_shows_the_secret,
            a_malformed_answer_is_a_clear_unknown_outcome,
            each_rate_limit_dialect_gives_the_wait_the_platform_asked_for,
            a_dropped_answer_to_an_accepted_post_is_unknown_and_can_be_settled,
            looking_up_a_post_never_made_is_none_or_unsupported,
            deleting_a_post_that_is_gone_is_done_or_unsupported,
            a_hostile_post_id_never_reaches_another_path,
            a_post_can_be_deleted_twice_where_the_platform_deletes,
            replies_thread_exactly_where_the_platform_threads,
            a_live_sessions_chain_of_updates_all_post_and_are_found,
            the_idempotency_key_is_honoured_exactly_where_declared,
            the_descriptor_builds_its_platforms_connector_and_wants_its_secret,
            a_post_with_images_arrives_with_every_description_or_as_text_alone,
        );
    };
}
pub(crate) use case_tests;
pub(crate) use conformance;

mod bluesky;
mod discord;
mod email;
mod facebook;
mod instagram;
mod linkedin;
mod mastodon;
mod matrix;
mod slack;
mod sms;
mod teams;
mod telegram;
mod threads;
mod webhook;
mod x;

use subject::Subject;
use tocsin_domain::Platform;

/// Every subject's platform, in `ALL`'s order.
const COVERED: [Platform; 15] = [
    mastodon::Mastodon::PLATFORM,
    bluesky::Bluesky::PLATFORM,
    x::X::PLATFORM,
    facebook::Facebook::PLATFORM,
    threads::Threads::PLATFORM,
    instagram::Instagram::PLATFORM,
    linkedin::Linkedin::PLATFORM,
    telegram::Telegram::PLATFORM,
    discord::Discord::PLATFORM,
    slack::Slack::PLATFORM,
    teams::Teams::PLATFORM,
    matrix::Matrix::PLATFORM,
    email::Email::PLATFORM,
    sms::Sms::PLATFORM,
    webhook::Webhook::PLATFORM,
];

#[test]
fn every_platform_in_all_runs_the_suite_with_its_own_descriptor() {
    let all: Vec<_> = tocsin_connectors::ALL.iter().map(|d| d.platform).collect();
    assert_eq!(COVERED.to_vec(), all);
}

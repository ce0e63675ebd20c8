//! The connectors' conformance suite: every connector in `tocsin_connectors::ALL`, built
//! by its descriptor, runs the same cases against its fake platform (a 5xx, refused
//! credentials, a malformed answer, each rate-limit dialect, an answer lost after the
//! post was made, lookup and delete of a missing post, a hostile post id, threads and
//! idempotency keys), so a failure is classified alike everywhere and no connector can
//! skip a case. A platform's own behaviour stays in its `src/<platform>/tests.rs`.

// Test code: a broken fixture should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cases;
mod subject;

/// The suite's cases as tests of one subject (a module per platform).
macro_rules! conformance {
    ($subject:ty) => {
        #[tokio::test]
        async fn a_server_error_is_transient_and_posts_nothing() {
            crate::cases::a_server_error_is_transient_and_posts_nothing::<$subject>().await;
        }

        #[tokio::test]
        async fn refused_credentials_are_an_auth_error_that_never_shows_the_secret() {
            crate::cases::refused_credentials_are_an_auth_error_that_never_shows_the_secret::<
                $subject,
            >()
            .await;
        }

        #[tokio::test]
        async fn a_malformed_answer_is_a_clear_unknown_outcome() {
            crate::cases::a_malformed_answer_is_a_clear_unknown_outcome::<$subject>().await;
        }

        #[tokio::test]
        async fn each_rate_limit_dialect_gives_the_wait_the_platform_asked_for() {
            crate::cases::each_rate_limit_dialect_gives_the_wait_the_platform_asked_for::<
                                                $subject,
                                            >()
                                            .await;
        }

        #[tokio::test]
        async fn a_dropped_answer_to_an_accepted_post_is_unknown_and_can_be_settled() {
            crate::cases::a_dropped_answer_to_an_accepted_post_is_unknown_and_can_be_settled::<
                $subject,
            >()
            .await;
        }

        #[tokio::test]
        async fn looking_up_a_post_never_made_is_none_or_unsupported() {
            crate::cases::looking_up_a_post_never_made_is_none_or_unsupported::<$subject>().await;
        }

        #[tokio::test]
        async fn deleting_a_post_that_is_gone_is_done_or_unsupported() {
            crate::cases::deleting_a_post_that_is_gone_is_done_or_unsupported::<$subject>().await;
        }

        #[tokio::test]
        async fn a_hostile_post_id_never_reaches_another_path() {
            crate::cases::a_hostile_post_id_never_reaches_another_path::<$subject>().await;
        }

        #[tokio::test]
        async fn a_post_can_be_deleted_twice_where_the_platform_deletes() {
            crate::cases::a_post_can_be_deleted_twice_where_the_platform_deletes::<$subject>()
                .await;
        }

        #[tokio::test]
        async fn replies_thread_exactly_where_the_platform_threads() {
            crate::cases::replies_thread_exactly_where_the_platform_threads::<$subject>().await;
        }

        #[tokio::test]
        async fn the_idempotency_key_is_honoured_exactly_where_declared() {
            crate::cases::the_idempotency_key_is_honoured_exactly_where_declared::<$subject>()
                .await;
        }

        #[tokio::test]
        async fn the_descriptor_builds_its_platforms_connector_and_wants_its_secret() {
            crate::cases::the_descriptor_builds_its_platforms_connector_and_wants_its_secret::<
                $subject,
            >()
            .await;
        }
    };
}
pub(crate) use conformance;

mod bluesky;
mod discord;
mod email;
mod facebook;
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

/// Every subject's platform, in `ALL`'s order.
fn covered() -> Vec<tocsin_domain::Platform> {
    [
        mastodon::Mastodon::descriptor(),
        bluesky::Bluesky::descriptor(),
        x::X::descriptor(),
        facebook::Facebook::descriptor(),
        threads::Threads::descriptor(),
        linkedin::Linkedin::descriptor(),
        telegram::Telegram::descriptor(),
        discord::Discord::descriptor(),
        slack::Slack::descriptor(),
        teams::Teams::descriptor(),
        matrix::Matrix::descriptor(),
        email::Email::descriptor(),
        sms::Sms::descriptor(),
        webhook::Webhook::descriptor(),
    ]
    .iter()
    .map(|d| d.platform)
    .collect()
}

#[test]
fn every_platform_in_all_runs_the_suite_with_its_own_descriptor() {
    let all: Vec<_> = tocsin_connectors::ALL.iter().map(|d| d.platform).collect();
    assert_eq!(covered(), all);
}

//! Accounts that post several languages, against the strict Mastodon fake: Spanish
//! follows English as a reply in the same thread; a retry after the Spanish post failed
//! posts only the Spanish; `together` makes one post where it fits; a Spanish-only account
//! posts Spanish alone; a retraction deletes every language's post, also where the
//! delivery failed for good after its English post went up.

use std::sync::Arc;
use std::time::Duration;
use tocsin_dispatch::AccountRoute;
use tocsin_domain::account_languages::AccountLanguages;
use tocsin_domain::counting::CountingRule;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::outbox::{Placement, Retraction};
use tocsin_store::{DeliveryState, RenderedVariant};
use tocsin_test_support::{mastodon, Fault};

use crate::on_both_backends;
use crate::support::{Backend, Deployment};

on_both_backends!(
    spanish_follows_english_as_a_reply_and_a_retry_posts_only_what_is_missing,
    together_is_one_post_and_a_spanish_only_account_posts_spanish,
    a_retraction_deletes_every_language_s_post,
    a_failed_delivery_whose_english_post_went_up_is_retracted_there_too,
);

const ENGLISH: &str = "Boil-water advisory for the North Side: boil tap water 1 minute.";
const SPANISH: &str = "Aviso de hervir el agua en el North Side: hierva el agua 1 minuto.";

fn texts() -> Vec<RenderedVariant> {
    [("mastodon", ENGLISH), ("mastodon.es", SPANISH)]
        .iter()
        .map(|(t, body)| RenderedVariant {
            target: TextTarget::parse(t).expect("a stored name"),
            body: (*body).to_string(),
        })
        .collect()
}

/// A Mastodon account on `server` posting `languages` (`together` or `separate`).
async fn account(
    d: &mut Deployment,
    server: &mastodon::FakeMastodon,
    handle: &str,
    languages: &str,
    posts: &str,
) -> i64 {
    let id = d
        .add_connected(
            Platform::Mastodon,
            handle,
            serde_json::json!({"base_url": server.base_url}),
            mastodon::TOKEN,
        )
        .await;
    let route = d.routes.get(id).expect("routed");
    d.routes.insert(
        id,
        AccountRoute::new(Arc::clone(&route.connector), route.host.clone()).with_languages(
            AccountLanguages::parse(languages, posts).expect("valid"),
            CountingRule::MASTODON,
        ),
    );
    id
}

async fn spanish_follows_english_as_a_reply_and_a_retry_posts_only_what_is_missing(
    backend: Backend,
) {
    let server = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = account(&mut d, &server, "@health@fake", "en, es", "separate").await;
    // The English post goes through (slowly); the Spanish one meets a 503 first.
    server
        .faults()
        .push_fault(Fault::Slow(Duration::from_millis(1)));
    server.faults().push_fault(Fault::unavailable());
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve_texts(texts(), &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;

    assert_eq!(d.states(m).await, vec![DeliveryState::Sent]);
    let statuses = server.live_statuses();
    assert_eq!(
        statuses.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        vec![ENGLISH, SPANISH],
        "English once, then Spanish once, after the 503: {statuses:#?}"
    );
    assert_eq!(
        statuses[1].in_reply_to_id.as_deref(),
        Some(statuses[0].id.as_str()),
        "the Spanish post replies to the English one"
    );
    assert_ne!(
        statuses[0].idempotency_key, statuses[1].idempotency_key,
        "each language's post has its own idempotency key"
    );
    assert_eq!(
        (
            statuses[0].language.as_deref(),
            statuses[1].language.as_deref()
        ),
        (None, Some("es")),
        "the Spanish status is tagged Spanish; the English one keeps the account's setting (none)"
    );
    let rows = d.store().messages().deliveries(m).await.unwrap();
    assert_eq!(rows[0].attempts, 2, "one retry, for the Spanish post");
    let recorded = d
        .store()
        .outbox()
        .recorded_post(m, acct)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        recorded.remote_id, statuses[0].id,
        "the delivery is the English post"
    );
}

async fn together_is_one_post_and_a_spanish_only_account_posts_spanish(backend: Backend) {
    let server = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let both = account(&mut d, &server, "@both@fake", "en, es", "together").await;
    let spanish = account(&mut d, &server, "@es@fake", "es", "separate").await;
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve_texts(texts(), &[both, spanish], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;

    let spanish_only = server
        .live_statuses()
        .into_iter()
        .find(|s| s.text == SPANISH)
        .expect("the Spanish-only account's post");
    assert_eq!(spanish_only.language.as_deref(), Some("es"));
    let mut posted: Vec<String> = server.live_statuses().into_iter().map(|s| s.text).collect();
    posted.sort();
    let mut expected = vec![format!("{ENGLISH}\n\n{SPANISH}"), SPANISH.to_string()];
    expected.sort();
    assert_eq!(posted, expected);

    // Over Mastodon's 500 characters together: one post per language instead.
    let long_en = format!("{ENGLISH}{}", " Details follow.".repeat(16));
    let long_es = format!("{SPANISH}{}", " Más detalles.".repeat(16));
    let long: Vec<RenderedVariant> = [("mastodon", &long_en), ("mastodon.es", &long_es)]
        .iter()
        .map(|(t, body)| RenderedVariant {
            target: TextTarget::parse(t).unwrap(),
            body: body.to_string(),
        })
        .collect();
    let m2 = d.approve_texts(long, &[both], Placement::default()).await;
    d.settle(&dispatcher, m2, Duration::from_secs(20)).await;
    let statuses = server.live_statuses();
    let last_two: Vec<&str> = statuses[statuses.len() - 2..]
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(last_two, vec![long_en.as_str(), long_es.as_str()]);
    assert_eq!(
        statuses[statuses.len() - 1].in_reply_to_id.as_deref(),
        Some(statuses[statuses.len() - 2].id.as_str())
    );
}

async fn a_retraction_deletes_every_language_s_post(backend: Backend) {
    let server = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = account(&mut d, &server, "@health@fake", "en, es", "separate").await;
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve_texts(texts(), &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    assert_eq!(server.live_statuses().len(), 2);

    let mut tx = d.store().begin().await.unwrap();
    let summary = tx
        .outbox()
        .retract_message("approver", m, &Retraction::delete("wrong area"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    d.settle(
        &dispatcher,
        summary.retraction_message_id,
        Duration::from_secs(20),
    )
    .await;
    assert!(
        server.live_statuses().is_empty(),
        "both posts deleted: {:#?}",
        server.live_statuses()
    );
    assert_eq!(server.statuses().len(), 2, "nothing new was posted");
}

async fn a_failed_delivery_whose_english_post_went_up_is_retracted_there_too(backend: Backend) {
    let server = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = account(&mut d, &server, "@health@fake", "en, es", "separate").await;
    // The English post goes through; Mastodon refuses the Spanish one for good.
    server
        .faults()
        .push_fault(Fault::Slow(Duration::from_millis(1)));
    server.faults().push_fault(Fault::Status {
        code: 422,
        retry_after: None,
        body: r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#.into(),
    });
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve_texts(texts(), &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    assert_eq!(d.states(m).await, vec![DeliveryState::Failed]);
    let up: Vec<String> = server.live_statuses().into_iter().map(|s| s.text).collect();
    assert_eq!(up, vec![ENGLISH.to_string()], "the English post stands");

    // Retracted: the English post that stands is deleted although the delivery failed.
    let mut tx = d.store().begin().await.unwrap();
    let summary = tx
        .outbox()
        .retract_message("approver", m, &Retraction::delete("wrong area"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(summary.targeted, 1, "the account with a post standing");
    d.settle(
        &dispatcher,
        summary.retraction_message_id,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        d.states(summary.retraction_message_id).await,
        vec![DeliveryState::Sent]
    );
    assert!(
        server.live_statuses().is_empty(),
        "the English post is gone: {:#?}",
        server.live_statuses()
    );
}

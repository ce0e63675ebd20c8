//! Fan-out: every account once, concurrently; restarts resume; stale workers are fenced
//! off; retraction deletes or corrects everywhere; live sessions thread per account.

use std::time::Duration;
use tocsin_store::outbox::{
    DeliveryResult, Placement, Recorded, RecordedPost, ResultOutcome, Retraction,
};
use tocsin_store::DeliveryState;

use crate::on_both_backends;
use crate::support::{Backend, Deployment};

on_both_backends!(
    every_account_gets_exactly_one_post,
    a_crashed_worker_s_claims_are_resumed_after_the_lease_without_double_posting,
    a_stale_worker_cannot_record_over_the_new_owner,
    retracting_deletes_everywhere_and_cancels_what_was_not_sent,
    live_session_posts_reply_to_each_account_s_previous_post_in_order,
    a_scheduled_message_waits_for_its_time,
    every_attempt_and_result_is_in_the_audit_chain,
    a_recurring_update_fires_once_across_two_nodes_and_repeats_the_approved_text,
    a_recurring_update_stops_when_its_creator_is_disabled_its_playbook_changes_or_its_consent_goes,
    a_scheduled_send_whose_consent_was_withdrawn_is_not_sent,
    a_deletion_done_announces_the_original_s_row_retracted_and_a_requeued_row_queued,
    an_account_this_node_does_not_know_yet_is_resolved_rather_than_failed,
    an_account_disabled_after_approval_is_skipped_and_a_new_one_is_not_added,
);

async fn an_account_disabled_after_approval_is_skipped_and_a_new_one_is_not_added(
    backend: Backend,
) {
    let mut d = Deployment::new(backend, 3).await;
    let m = d
        .approve("Cooling centers open.", &d.accounts, Placement::default())
        .await;
    // After approval: one account is disabled (out of fan-out on every node) and another
    // is connected. The message keeps the set it was approved for.
    let gone = d.accounts[1];
    d.store().accounts().disable("admin", gone).await.unwrap();
    d.routes.remove(gone);
    let newcomer = d.add_account("sandbox", "sandbox-late", true).await;
    let connector = std::sync::Arc::new(tocsin_connectors::sandbox::SandboxConnector::new(
        &newcomer.to_string(),
        d.sandbox.clone(),
    ));
    d.route(newcomer, connector, "sandbox");

    let dispatcher = d.dispatcher("node-a");
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    let rows = d.store().messages().deliveries(m).await.unwrap();
    assert_eq!(
        rows.len(),
        3,
        "no delivery is added for {newcomer}: {rows:#?}"
    );
    for r in &rows {
        if r.account_id == gone {
            assert_eq!(r.state, DeliveryState::Skipped, "{r:?}");
            assert!(
                r.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("disabled after the message was approved"),
                "{r:?}"
            );
        } else {
            assert_eq!(r.state, DeliveryState::Sent, "{r:?}");
        }
    }
    assert!(d.sandbox.posts_for(&gone.to_string()).is_empty());
    assert!(d.sandbox.posts_for(&newcomer.to_string()).is_empty());
    d.assert_chain_verifies().await;
}

async fn an_account_this_node_does_not_know_yet_is_resolved_rather_than_failed(backend: Backend) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tocsin_connectors::sandbox::SandboxConnector;
    use tocsin_dispatch::AccountRoute;

    let d = Deployment::new(backend, 3).await;
    // Another node added the third account after this one started: no route here.
    let newcomer = d.accounts[2];
    d.routes.remove(newcomer);
    let asked = Arc::new(AtomicUsize::new(0));
    {
        let (asked, sandbox, routes) =
            (asked.clone(), d.sandbox.clone(), Arc::downgrade(&d.routes));
        d.routes.set_resolver(Arc::new(move |id| {
            let (asked, sandbox, routes) = (asked.clone(), sandbox.clone(), routes.clone());
            Box::pin(async move {
                asked.fetch_add(1, Ordering::SeqCst);
                let route = AccountRoute {
                    connector: Arc::new(SandboxConnector::new(&id.to_string(), sandbox)),
                    host: "sandbox".into(),
                    languages: Default::default(),
                    counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                    images: None,
                };
                routes.upgrade()?.insert(id, route.clone());
                Some(route)
            })
        }));
    }
    let dispatcher = d.dispatcher("node-b");
    let m = d
        .approve("Cooling centers open.", &d.accounts, Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    assert!(d.states(m).await.iter().all(|s| *s == DeliveryState::Sent));
    assert_eq!(d.sandbox.posts_for(&newcomer.to_string()).len(), 1);
    assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once, then known");
}

async fn every_account_gets_exactly_one_post(backend: Backend) {
    let d = Deployment::new(backend, 40).await;
    let dispatcher = d.dispatcher("node-a");
    let mut events = dispatcher.subscribe();
    let m = d
        .approve(
            "Boil water advisory for North Side.",
            &d.accounts,
            Placement::default(),
        )
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;

    assert!(d.states(m).await.iter().all(|s| *s == DeliveryState::Sent));
    let counts = d.sandbox.counts();
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|&c| c == 1), "{counts:?}");
    let rows = d.store().messages().deliveries(m).await.unwrap();
    assert!(rows.iter().all(|r| r
        .remote_url
        .as_deref()
        .is_some_and(|u| u.starts_with("/sandbox/"))));
    let mut delivered = 0;
    while let Ok(e) = events.try_recv() {
        if matches!(e.kind, tocsin_dispatch::DeliveryEventKind::Delivered { .. }) {
            delivered += 1;
        }
    }
    assert_eq!(delivered, 40, "one delivered event per account");
}

async fn a_crashed_worker_s_claims_are_resumed_after_the_lease_without_double_posting(
    backend: Backend,
) {
    let d = Deployment::new(backend, 10).await;
    let m = d
        .approve("Shelter in place.", &d.accounts, Placement::default())
        .await;
    // A worker claims everything with a short lease, then dies without recording.
    let claimed = d
        .store()
        .outbox()
        .claim_due("dead-node", chrono::Duration::milliseconds(200), 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 10);
    let survivor = d.dispatcher("node-b");
    assert_eq!(
        survivor.dispatch_batch().await.unwrap(),
        0,
        "leased rows are not claimable"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.settle(&survivor, m, Duration::from_secs(20)).await;
    assert!(d.states(m).await.iter().all(|s| *s == DeliveryState::Sent));
    assert!(d.sandbox.counts().values().all(|&c| c == 1));
}

async fn a_stale_worker_cannot_record_over_the_new_owner(backend: Backend) {
    let d = Deployment::new(backend, 1).await;
    let m = d
        .approve("Heat warning.", &d.accounts, Placement::default())
        .await;
    let old = d
        .store()
        .outbox()
        .claim_due("old", chrono::Duration::milliseconds(100), 1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let new = d
        .store()
        .outbox()
        .claim_due("new", chrono::Duration::seconds(60), 1)
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    assert!(new[0].fencing_token > old[0].fencing_token);
    let sent = |token| DeliveryResult {
        message_id: m,
        account_id: d.accounts[0],
        fencing_token: token,
        attempt: 1,
        outcome: ResultOutcome::Sent(RecordedPost {
            remote_id: format!("r{token}"),
            remote_url: None,
            remote_extra: None,
        }),
    };
    let r = d
        .store()
        .outbox()
        .record_results("new", &[sent(new[0].fencing_token)])
        .await
        .unwrap();
    assert_eq!(r, vec![Recorded::Yes]);
    let r = d
        .store()
        .outbox()
        .record_results("old", &[sent(old[0].fencing_token)])
        .await
        .unwrap();
    assert_eq!(r, vec![Recorded::Stale]);
    let row = &d.store().messages().deliveries(m).await.unwrap()[0];
    assert_eq!(
        row.remote_id.as_deref(),
        Some(format!("r{}", new[0].fencing_token).as_str())
    );
}

async fn retracting_deletes_everywhere_and_cancels_what_was_not_sent(backend: Backend) {
    let d = Deployment::new(backend, 6).await;
    let dispatcher = d.dispatcher("node-a");
    let (sent_to, later) = d.accounts.split_at(3);
    let m = d
        .approve("Wrong clinic address.", sent_to, Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    let scheduled = Placement {
        not_before: Some(d.store().now() + chrono::Duration::hours(1)),
        ..Placement::default()
    };
    let m2 = d.approve("Wrong clinic address.", later, scheduled).await;

    let mut tx = d.store().begin().await.unwrap();
    let summary = tx
        .outbox()
        .retract_message("approver", m, &Retraction::delete("address was wrong"))
        .await
        .unwrap();
    let summary2 = tx
        .outbox()
        .retract_message("approver", m2, &Retraction::delete("address was wrong"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((summary.targeted, summary.cancelled), (3, 0));
    assert_eq!((summary2.targeted, summary2.cancelled), (0, 3));

    d.settle(
        &dispatcher,
        summary.retraction_message_id,
        Duration::from_secs(20),
    )
    .await;
    assert!(
        d.states(m)
            .await
            .iter()
            .all(|s| *s == DeliveryState::Retracted),
        "{:?}",
        d.states(m).await
    );
    assert!(d
        .states(m2)
        .await
        .iter()
        .all(|s| *s == DeliveryState::Cancelled));
    let posts = d.sandbox.posts();
    assert_eq!(posts.len(), 3, "nothing was sent for the cancelled message");
    assert!(posts.iter().all(|p| p.deleted));

    let mut tx = d.store().begin().await.unwrap();
    let again = tx
        .outbox()
        .retract_message("approver", m, &Retraction::delete("twice"))
        .await;
    assert!(again.is_err(), "a message is retracted once");
}

async fn live_session_posts_reply_to_each_account_s_previous_post_in_order(backend: Backend) {
    let d = Deployment::new(backend, 3).await;
    let dispatcher = d.dispatcher("node-a");
    let mut tx = d.store().begin().await.unwrap();
    let session = tx
        .live_sessions()
        .create(
            "drafter",
            "live-procedure",
            "Knee replacement",
            "MercyKneeLive",
            false,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Approved faster than anything is sent: the thread order must still hold.
    let mut ids = Vec::new();
    for n in 1..=4 {
        let placement = Placement {
            session_id: Some(session),
            ..Placement::default()
        };
        ids.push(
            d.approve(
                &format!("{n}/ update {n} #MercyKneeLive"),
                &d.accounts,
                placement,
            )
            .await,
        );
    }
    for id in &ids {
        d.settle(&dispatcher, *id, Duration::from_secs(20)).await;
    }
    for account in &d.accounts {
        let posts = d.sandbox.posts_for(&account.to_string());
        assert_eq!(posts.len(), 4);
        assert!(posts[0].post.reply_to.is_none());
        for pair in posts.windows(2) {
            assert_eq!(
                pair[1].post.reply_to.as_ref().map(|r| r.id.clone()),
                Some(pair[0].id.clone())
            );
            assert_eq!(
                pair[1].post.thread_root.as_ref().map(|r| r.id.clone()),
                Some(posts[0].id.clone())
            );
        }
        let texts: Vec<&str> = posts.iter().map(|p| p.post.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "1/ update 1 #MercyKneeLive",
                "2/ update 2 #MercyKneeLive",
                "3/ update 3 #MercyKneeLive",
                "4/ update 4 #MercyKneeLive"
            ]
        );
    }
}

async fn a_scheduled_message_waits_for_its_time(backend: Backend) {
    let d = Deployment::new(backend, 2).await;
    let dispatcher = d.dispatcher("node-a");
    let soon = d.store().now() + chrono::Duration::milliseconds(700);
    let m = d
        .approve(
            "Clinic opens at noon.",
            &d.accounts,
            Placement {
                not_before: Some(soon),
                ..Placement::default()
            },
        )
        .await;
    assert_eq!(
        dispatcher.dispatch_batch().await.unwrap(),
        0,
        "not before its time"
    );
    assert!(d.sandbox.posts().is_empty());
    tokio::time::sleep(Duration::from_millis(800)).await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    assert_eq!(d.sandbox.posts().len(), 2);
}

async fn every_attempt_and_result_is_in_the_audit_chain(backend: Backend) {
    let d = Deployment::new(backend, 5).await;
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve("Air quality alert.", &d.accounts, Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    let entries = d
        .store()
        .audit()
        .read(&tocsin_store::AuditFilter::default())
        .await
        .unwrap();
    let count = |action: &str| {
        entries
            .iter()
            .filter(|e| e.entry.event.action == action)
            .count()
    };
    assert_eq!(count("message.approve"), 1);
    assert_eq!(count("delivery.claim"), 1, "one claim entry for the batch");
    assert_eq!(count("delivery.result"), 5);
    d.assert_chain_verifies().await;
}

async fn a_recurring_update_fires_once_across_two_nodes_and_repeats_the_approved_text(
    backend: Backend,
) {
    let d = Deployment::new(backend, 3).await;
    let node_a = d.dispatcher("node-a");
    let node_b = d.dispatcher("node-b");
    let m = d
        .approve(
            "Boil-water advisory still in effect.",
            &d.accounts,
            Placement::default(),
        )
        .await;
    d.settle(&node_a, m, Duration::from_secs(20)).await;
    d.with_approver_and_preapproval().await;

    let mut tx = d.store().begin().await.unwrap();
    let first = d.store().now() - chrono::Duration::seconds(1);
    tx.schedules()
        .add_recurring(
            "approver",
            m,
            first,
            chrono::Duration::hours(2),
            first + chrono::Duration::hours(12),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (a, b) = tokio::join!(node_a.fire_schedules(), node_b.fire_schedules());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "two nodes, one firing");
    assert_eq!(
        node_a.fire_schedules().await.unwrap(),
        0,
        "the next run is two hours away"
    );

    for _ in 0..50 {
        node_a.dispatch_batch().await.unwrap();
        node_a.drain().await;
        if d.sandbox.posts().len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let posts = d.sandbox.posts();
    assert_eq!(
        posts.len(),
        6,
        "the original and one repeat on each account"
    );
    assert!(posts
        .iter()
        .all(|p| p.post.text == "Boil-water advisory still in effect."));
    let keys: std::collections::BTreeSet<_> = posts
        .iter()
        .map(|p| p.post.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 6, "a repeat is a new message, not a re-send");
}

/// The schedules of message `m`: (state, stop reason).
async fn schedule_states(d: &Deployment, m: i64) -> Vec<(String, Option<String>)> {
    d.store()
        .schedules()
        .recurring(Some(m))
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.state.as_str().to_string(), s.stop_reason))
        .collect()
}

async fn a_recurring_update_stops_when_its_creator_is_disabled_its_playbook_changes_or_its_consent_goes(
    backend: Backend,
) {
    let d = Deployment::new(backend, 1).await;
    let node = d.dispatcher("node-a");
    d.with_approver_and_preapproval().await;
    d.store()
        .consents()
        .add(
            "casey",
            &tocsin_store::NewConsent {
                reference: "C-1".into(),
                subject: "A patient".into(),
                scope_playbooks: vec!["boil-water".into()],
                scope_channels: [
                    "sandbox", "mastodon", "bluesky", "linkedin", "matrix", "webhook", "email",
                    "sms",
                ]
                .map(String::from)
                .to_vec(),
                expires_at: None,
                form_location: "binder 7".into(),
            },
        )
        .await
        .unwrap();
    let with_consent = Placement {
        consent_ref: Some("C-1".into()),
        ..Placement::default()
    };
    let fire = |m: i64| {
        let node = node.clone();
        let store = d.store().clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            let first = store.now() - chrono::Duration::seconds(1);
            tx.schedules()
                .add_recurring(
                    "approver",
                    m,
                    first,
                    chrono::Duration::hours(1),
                    first + chrono::Duration::hours(6),
                )
                .await
                .unwrap();
            tx.commit().await.unwrap();
            node.fire_schedules().await.unwrap()
        }
    };
    // Every check passes: it fires.
    let ok = d
        .approve("Still in effect.", &d.accounts, with_consent.clone())
        .await;
    let fired = fire(ok).await;
    let states = schedule_states(&d, ok).await;
    assert_eq!(fired, 1, "{states:?}");
    assert_eq!(states[0].0, "scheduled");

    // The consent its approval cited is withdrawn: it stops, saying why.
    let m = d
        .approve("Update 2.", &d.accounts, with_consent.clone())
        .await;
    d.store()
        .consents()
        .revoke("casey", "C-1", "withdrawn by phone")
        .await
        .unwrap();
    assert_eq!(fire(m).await, 0);
    assert_eq!(
        schedule_states(&d, m).await,
        [(
            "stopped".to_string(),
            Some("consent record C-1 was withdrawn".to_string())
        )]
    );

    // The playbook was approved again with other content: it stops.
    let m = d
        .approve("Update 3.", &d.accounts, Placement::default())
        .await;
    d.store()
        .playbooks()
        .record_approval(&tocsin_domain::preapproval::PlaybookApproval {
            playbook_id: "boil-water".into(),
            content_hash: "sha256:test-v2".into(),
            approved_by: "dr-lee".into(),
            approved_at: d.store().now(),
            note: None,
        })
        .await
        .unwrap();
    assert_eq!(fire(m).await, 0);
    let (state, reason) = schedule_states(&d, m).await.remove(0);
    assert_eq!(state, "stopped");
    assert!(reason.unwrap().contains("approved again"));
    d.store()
        .playbooks()
        .record_approval(&tocsin_domain::preapproval::PlaybookApproval {
            playbook_id: "boil-water".into(),
            content_hash: "sha256:test".into(),
            approved_by: "dr-lee".into(),
            approved_at: d.store().now(),
            note: None,
        })
        .await
        .unwrap();

    // Its creator is disabled: it stops; and the repeat that was firing stops too.
    let m = d
        .approve("Update 4.", &d.accounts, Placement::default())
        .await;
    let mut tx = d.store().begin().await.unwrap();
    tx.people().disable("admin", "approver").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fire(m).await, 0);
    assert_eq!(
        schedule_states(&d, m).await,
        [(
            "stopped".to_string(),
            Some("its creator approver is disabled".to_string())
        )]
    );

    let stops = d
        .store()
        .audit()
        .read(&tocsin_store::AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.event.action == "schedule.stop")
        .count();
    assert_eq!(stops, 3, "each stop is audited");
}

async fn a_scheduled_send_whose_consent_was_withdrawn_is_not_sent(backend: Backend) {
    let d = Deployment::new(backend, 2).await;
    let dispatcher = d.dispatcher("node-a");
    d.store()
        .consents()
        .add(
            "casey",
            &tocsin_store::NewConsent {
                reference: "C-9".into(),
                subject: "A patient".into(),
                scope_playbooks: vec!["boil-water".into()],
                scope_channels: [
                    "sandbox", "mastodon", "bluesky", "linkedin", "matrix", "webhook", "email",
                    "sms",
                ]
                .map(String::from)
                .to_vec(),
                expires_at: None,
                form_location: "binder 7".into(),
            },
        )
        .await
        .unwrap();
    let m = d
        .approve(
            "A patient story, with consent.",
            &d.accounts,
            Placement {
                // Scheduled; by the time it is due, the consent is withdrawn.
                not_before: Some(d.store().now()),
                consent_ref: Some("C-9".into()),
                ..Placement::default()
            },
        )
        .await;
    d.store()
        .consents()
        .revoke("casey", "C-9", "withdrawn before the send")
        .await
        .unwrap();
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    assert!(d.sandbox.posts().is_empty(), "nothing went out");
    let rows = d.store().messages().delivery_rows(m).await.unwrap();
    assert!(
        rows.iter().all(|r| r.state == DeliveryState::Failed
            && r.last_error.as_deref() == Some("not sent: consent record C-9 was withdrawn")),
        "{rows:?}"
    );
}

async fn a_deletion_done_announces_the_original_s_row_retracted_and_a_requeued_row_queued(
    backend: Backend,
) {
    use tocsin_dispatch::{DeliveryEvent, DeliveryEventKind};
    let d = Deployment::new(backend, 2).await;
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve("Wrong area.", &d.accounts, Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(20)).await;
    let mut events = dispatcher.subscribe();
    let mut tx = d.store().begin().await.unwrap();
    let deletion = tx
        .outbox()
        .retract_message("approver", m, &Retraction::delete("wrong area"))
        .await
        .unwrap()
        .retraction_message_id;
    tx.commit().await.unwrap();
    d.settle(&dispatcher, deletion, Duration::from_secs(20))
        .await;
    let mut retracted = std::collections::BTreeSet::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == DeliveryEventKind::Retracted {
            assert_eq!(e.message_id, m, "the original's row is the one retracted");
            retracted.insert(e.account_id);
        }
    }
    assert_eq!(
        retracted,
        d.accounts.iter().copied().collect(),
        "each deletion done announces the original's row retracted"
    );

    dispatcher.queued(m, d.accounts[0]);
    assert_eq!(
        events.try_recv().unwrap(),
        DeliveryEvent {
            message_id: m,
            account_id: d.accounts[0],
            kind: DeliveryEventKind::Queued,
        }
    );
}

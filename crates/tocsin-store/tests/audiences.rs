//! Audiences in the store: a message keeps the target set it was approved with (and its
//! approval's audit entry names the groups and the accounts per platform), a retraction
//! answers for its original, a live session keeps its own set, and the public feed reads
//! only messages whose set reaches the public group (or every account, or from before
//! audiences).

use std::collections::BTreeMap;
use tocsin_domain::audience::TargetSpec;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::outbox::Retraction;
use tocsin_store::*;

use crate::support::TestDb;

crate::on_both_backends!(
    a_message_keeps_its_target_set_and_the_feed_reads_only_public_ones,
    a_live_session_keeps_the_target_set_it_started_with,
);

fn spec(groups: &[&str]) -> TargetSpec {
    TargetSpec {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..TargetSpec::default()
    }
}

async fn message(db: &TestDb, account: i64, targets: Option<TargetSpec>) -> i64 {
    let variants = vec![RenderedVariant {
        target: TextTarget::parse("mastodon").unwrap(),
        body: "Boil water advisory for North Side.".into(),
    }];
    let draft_id = db
        .store
        .drafts()
        .insert(&NewDraft {
            playbook_id: "boil-water".into(),
            step_id: "alert".into(),
            content_hash: "sha256:bw".into(),
            variables_json: "{}".into(),
            created_by: "dana".into(),
            exercise: false,
            variants: variants.clone(),
        })
        .await
        .unwrap();
    db.store
        .outbox()
        .create_message(&NewMessage {
            draft_id,
            approved_by: "alex".into(),
            exercise: false,
            break_glass: false,
            variants,
            account_ids: vec![account],
            targets: targets.map(|spec| MessageTargets {
                spec,
                per_platform: BTreeMap::from([(Platform::Mastodon, 1)]),
            }),
        })
        .await
        .unwrap()
}

async fn a_message_keeps_its_target_set_and_the_feed_reads_only_public_ones(db: &TestDb) {
    let account = db
        .store
        .accounts()
        .add(
            "admin",
            &NewAccount {
                platform: Platform::Mastodon,
                stands_for: None,
                handle: "@health@example.social".into(),
                display_name: "Health".into(),
                sandbox: false,
                groups: vec!["public".into()],
            },
        )
        .await
        .unwrap();
    let public = message(db, account, Some(spec(&["public", "staff"]))).await;
    let staff = message(db, account, Some(spec(&["staff"]))).await;
    // `mastodon` is a platform in per_platform, not a group: it must not count as one.
    let mastodon_group = message(db, account, Some(spec(&["partners"]))).await;
    let everyone = message(
        db,
        account,
        Some(TargetSpec {
            everyone: true,
            ..TargetSpec::default()
        }),
    )
    .await;
    let before_audiences = message(db, account, None).await;

    let kept = db.store.messages().targets(staff).await.unwrap().unwrap();
    assert_eq!(kept.spec, spec(&["staff"]));
    assert_eq!(kept.groups_text(), "staff");
    assert_eq!(kept.counts_text(), "mastodon:1");
    assert_eq!(
        db.store.messages().targets(before_audiences).await.unwrap(),
        None
    );

    // A retraction answers for its original, in the feed too.
    let mut tx = db.store.begin().await.unwrap();
    let retraction = tx
        .outbox()
        .retract_message("alex", staff, &Retraction::delete("wrong list"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = retraction.retraction_message_id;
    assert_eq!(
        db.store.messages().targets(r).await.unwrap().unwrap().spec,
        spec(&["staff"])
    );

    let ids = |public_group: &'static str| {
        let store = db.store.clone();
        async move {
            let mut ids: Vec<i64> = store
                .feed()
                .messages(false, &["boil-water".to_string()], public_group, None, 50)
                .await
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(ids("public").await, [public, everyone, before_audiences]);
    assert_eq!(
        ids("staff").await,
        [public, staff, everyone, before_audiences, r]
    );
    assert!(!ids("partners").await.contains(&public));
    assert!(ids("partners").await.contains(&mastodon_group));

    let entry = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .find(|e| e.action == "message.approve" && e.subjects["message"] == public.to_string())
        .unwrap();
    assert_eq!(entry.subjects["groups"], "public,staff");
    assert_eq!(entry.subjects["targets"], "mastodon:1");
}

async fn a_live_session_keeps_the_target_set_it_started_with(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let id = tx
        .live_sessions()
        .create("dana", "live-procedure", "Live", "StvKnee", false)
        .await
        .unwrap();
    let chosen = TargetSpec {
        exclude_accounts: vec![3],
        ..spec(&["public"])
    };
    tx.live_sessions()
        .set_targets("dana", id, &chosen)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = db.store.live_sessions().get(id).await.unwrap().unwrap();
    assert_eq!(row.targets, Some(chosen));
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.live_sessions()
            .set_targets("dana", 999, &spec(&[]))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

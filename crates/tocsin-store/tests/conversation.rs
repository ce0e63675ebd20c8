//! The public conversation under a live session's hashtag and the end of a session, each
//! run on SQLite and on PostgreSQL.

use crate::support::TestDb;
use chrono::{Duration, TimeZone, Utc};
use tocsin_store::*;

crate::on_both_backends!(
    a_post_heard_twice_is_stored_once_and_only_the_first_insert_says_so,
    a_conversation_lists_newest_first_within_the_limit_and_filters_questions,
    marking_a_question_is_audited_with_the_post_and_its_url_and_a_repeat_writes_nothing,
    a_deleted_post_is_marked_in_every_session_once,
    a_session_ends_once_and_then_hears_nothing_more,
    a_question_on_a_post_of_another_session_is_not_found,
);

async fn session(db: &TestDb, tag: &str) -> i64 {
    let mut tx = db.store.begin().await.unwrap();
    let id = tx
        .live_sessions()
        .create("dana", "boil-water", "Main break", tag, false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

fn post(remote: &str, minute: u32) -> NewConversationPost {
    NewConversationPost {
        platform: tocsin_domain::Platform::Mastodon,
        source_instance: Some("https://a.example".into()),
        remote_id: format!("https://a.example/@ann/{remote}"),
        source_post_id: format!("10{remote}"),
        author_handle: "ann@a.example".into(),
        author_name: "Ann".into(),
        text: format!("Is the water safe? <b>{remote}</b>"),
        url: Some(format!("https://a.example/@ann/{remote}")),
        posted_at: Utc.with_ymd_and_hms(2026, 6, 1, 9, minute, 0).unwrap(),
    }
}

async fn audit_actions(db: &TestDb) -> Vec<(String, Option<String>)> {
    db.store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.event.action, e.entry.event.outcome))
        .collect()
}

async fn a_post_heard_twice_is_stored_once_and_only_the_first_insert_says_so(db: &TestDb) {
    let s = session(db, "MainBreak").await;
    let first = db.store.conversation().insert_post(s, &post("1", 1)).await;
    let first = first.unwrap();
    assert!(first.is_some());
    // Another instance (or another node) hears the same post.
    let mut again = post("1", 1);
    again.source_instance = Some("https://b.example".into());
    assert_eq!(
        db.store
            .conversation()
            .insert_post(s, &again)
            .await
            .unwrap(),
        None
    );
    let other_node = db.reopen().await;
    assert_eq!(
        other_node
            .conversation()
            .insert_post(s, &post("1", 1))
            .await
            .unwrap(),
        None
    );
    let listed = db.store.conversation().posts(s, 50, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, first.unwrap());
    assert_eq!(
        listed[0].source_instance.as_deref(),
        Some("https://a.example")
    );
    assert_eq!(listed[0].text, "Is the water safe? <b>1</b>");
    // Hearing is not an action anyone took: nothing audited beyond the session's start.
    let actions = audit_actions(db).await;
    assert!(actions.iter().all(|(a, _)| !a.starts_with("conversation.")));
    other_node.close().await;
}

async fn a_conversation_lists_newest_first_within_the_limit_and_filters_questions(db: &TestDb) {
    let s = session(db, "MainBreak").await;
    let mut ids = Vec::new();
    for (remote, minute) in [("a", 5), ("b", 1), ("c", 9)] {
        ids.push(
            db.store
                .conversation()
                .insert_post(s, &post(remote, minute))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let all = db.store.conversation().posts(s, 50, false).await.unwrap();
    let order: Vec<i64> = all.iter().map(|p| p.id).collect();
    assert_eq!(order, vec![ids[2], ids[0], ids[1]]);
    let two = db.store.conversation().posts(s, 2, false).await.unwrap();
    assert_eq!(two.len(), 2);
    assert!(db
        .store
        .conversation()
        .posts(s, 50, true)
        .await
        .unwrap()
        .is_empty());
    db.store
        .conversation()
        .set_question("dana", s, ids[1], Some(QuestionState::Marked))
        .await
        .unwrap();
    let questions = db.store.conversation().posts(s, 50, true).await.unwrap();
    assert_eq!(questions.len(), 1);
    assert_eq!(questions[0].id, ids[1]);
    assert_eq!(questions[0].question, Some(QuestionState::Marked));
    assert_eq!(questions[0].question_by.as_deref(), Some("dana"));
}

async fn marking_a_question_is_audited_with_the_post_and_its_url_and_a_repeat_writes_nothing(
    db: &TestDb,
) {
    let s = session(db, "MainBreak").await;
    let id = db
        .store
        .conversation()
        .insert_post(s, &post("7", 1))
        .await
        .unwrap()
        .unwrap();
    db.store
        .conversation()
        .set_question("dana", s, id, Some(QuestionState::Marked))
        .await
        .unwrap();
    db.store
        .conversation()
        .set_question("dana", s, id, Some(QuestionState::Marked))
        .await
        .unwrap();
    db.clock.advance(Duration::minutes(3));
    db.store
        .conversation()
        .set_question("alex", s, id, Some(QuestionState::Answered))
        .await
        .unwrap();
    db.store
        .conversation()
        .set_question("alex", s, id, None)
        .await
        .unwrap();
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let ours: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.event.action.starts_with("conversation."))
        .collect();
    let actions: Vec<&str> = ours.iter().map(|e| e.entry.event.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "conversation.question_marked",
            "conversation.question_answered",
            "conversation.question_cleared"
        ]
    );
    let first = &ours[0].entry.event;
    assert_eq!(first.actor, "dana");
    assert_eq!(first.subjects.get("session"), Some(&s.to_string()));
    assert_eq!(
        first.subjects.get("conversation_post"),
        Some(&id.to_string())
    );
    assert_eq!(first.outcome.as_deref(), Some("https://a.example/@ann/7"));
    // The post's text and author stay out of the chain.
    for e in &entries {
        let line = format!("{:?}", e.entry.event);
        assert!(!line.contains("water safe"), "{line}");
        assert!(!line.contains("ann@a.example"), "{line}");
    }
    let stored = db.store.conversation().post(s, id).await.unwrap().unwrap();
    assert_eq!(stored.question, None);
    assert_eq!(stored.question_by.as_deref(), Some("alex"));
}

async fn a_deleted_post_is_marked_in_every_session_once(db: &TestDb) {
    let s1 = session(db, "MainBreak").await;
    let s2 = session(db, "BoilWater").await;
    let p1 = db.store.conversation().insert_post(s1, &post("9", 1)).await;
    let p2 = db.store.conversation().insert_post(s2, &post("9", 1)).await;
    let (p1, p2) = (p1.unwrap().unwrap(), p2.unwrap().unwrap());
    let local = post("9", 1).source_post_id;
    let a = Some("https://a.example");
    let mut marked = db
        .store
        .conversation()
        .mark_deleted("mastodon", a, &local)
        .await
        .unwrap();
    marked.sort_by_key(|d| d.post_id);
    assert_eq!(
        marked,
        vec![
            DeletedPost {
                session_id: s1,
                post_id: p1
            },
            DeletedPost {
                session_id: s2,
                post_id: p2
            },
        ]
    );
    assert!(db
        .store
        .conversation()
        .mark_deleted("mastodon", a, &local)
        .await
        .unwrap()
        .is_empty());
    // The same status id on another instance is another post.
    assert!(db
        .store
        .conversation()
        .mark_deleted("mastodon", Some("https://b.example"), &local)
        .await
        .unwrap()
        .is_empty());
    assert!(db
        .store
        .conversation()
        .mark_deleted("bluesky", None, &local)
        .await
        .unwrap()
        .is_empty());
    let listed = db.store.conversation().posts(s1, 50, false).await.unwrap();
    assert!(listed[0].deleted_at.is_some());
}

async fn a_session_ends_once_and_then_hears_nothing_more(db: &TestDb) {
    let s = session(db, "MainBreak").await;
    db.store.live_sessions().end("dana", s).await.unwrap();
    let row = db.store.live_sessions().get(s).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        tocsin_store::live_sessions::LiveSessionState::Ended
    );
    match db.store.live_sessions().end("alex", s).await {
        Err(StoreError::Conflict(text)) => {
            assert!(text.contains("already ended"), "{text}")
        }
        other => panic!("ending twice: {other:?}"),
    }
    assert!(matches!(
        db.store.live_sessions().end("alex", s + 100).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        db.store
            .conversation()
            .insert_post(s, &post("late", 1))
            .await
            .unwrap(),
        None
    );
    let ends: Vec<_> = audit_actions(db)
        .await
        .into_iter()
        .filter(|(a, _)| a == "session.end")
        .collect();
    assert_eq!(ends.len(), 1);
}

async fn a_question_on_a_post_of_another_session_is_not_found(db: &TestDb) {
    let s1 = session(db, "MainBreak").await;
    let s2 = session(db, "BoilWater").await;
    let p = db
        .store
        .conversation()
        .insert_post(s1, &post("x", 1))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        db.store
            .conversation()
            .set_question("dana", s2, p, Some(QuestionState::Marked))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

//! Platform accounts with sealed secrets: added in one transaction with the seal bound to
//! the new id, status changes, disabling that keeps history, and key rotation that
//! re-seals every secret (accounts and second factors) in one transaction or not at all.
//! The "sealing" here is a stand-in the test can read; the real one is tocsin-web's.

use serde_json::json;
use tocsin_store::*;

use crate::support::TestDb;
use tocsin_domain::Platform;

crate::on_both_backends!(
    an_account_is_added_with_its_secret_sealed_to_its_new_id_in_one_transaction,
    a_seal_that_fails_leaves_neither_the_account_nor_its_audit_entry,
    status_changes_secret_replacement_and_disabling_are_audited_and_keep_history,
    rotation_reseals_every_secret_or_none,
    groups_are_stored_with_an_account_replaced_whole_and_audited,
    languages_are_the_primary_until_set_then_stored_audited_and_noticed,
);

/// A readable stand-in for sealing: a key byte, the owner, then the text xored.
fn seal(key: u8, owner: i64, plain: &[u8]) -> Vec<u8> {
    let mut out = vec![key, owner as u8];
    out.extend(plain.iter().map(|b| b ^ key));
    out
}

fn open(key: u8, owner: i64, sealed: &[u8]) -> Result<Vec<u8>, String> {
    match sealed {
        [k, o, rest @ ..] if *k == key && *o == owner as u8 => {
            Ok(rest.iter().map(|b| b ^ key).collect())
        }
        _ => Err(format!("value of {owner} did not open")),
    }
}

fn telegram(handle: &str) -> NewAccount {
    NewAccount {
        platform: Platform::Telegram,
        stands_for: None,
        handle: handle.into(),
        display_name: format!("Telegram {handle}"),
        sandbox: false,
        groups: Vec::new(),
    }
}

const TOKEN: &[u8] = b"123456:canary-bot-token";

async fn actions(db: &TestDb) -> Vec<(String, Option<String>)> {
    db.store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.event.action, e.entry.event.outcome))
        .collect()
}

async fn an_account_is_added_with_its_secret_sealed_to_its_new_id_in_one_transaction(db: &TestDb) {
    let settings = json!({"chat_id": "@county_health", "link_preview": false});
    let mut seen = None;
    let id = db
        .store
        .accounts()
        .add_sealed("ana", &telegram("@county_health"), &settings, |id| {
            seen = Some(id);
            Ok(Some(seal(7, id, TOKEN)))
        })
        .await
        .unwrap();
    assert_eq!(seen, Some(id), "the seal is bound to the new row's id");
    let without = db
        .store
        .accounts()
        .add_sealed("ana", &telegram("@other"), &json!({}), |_| Ok(None))
        .await
        .unwrap();

    let r = db.store.accounts().get(id).await.unwrap().unwrap();
    assert_eq!(r.settings, settings);
    assert_eq!(r.status, AccountStatus::Connected);
    assert_eq!(r.status_detail, None);
    assert_eq!(
        open(7, id, r.secret_sealed.as_deref().unwrap()).unwrap(),
        TOKEN
    );
    assert_eq!(r.secret_updated_at, Some(db.store.now()));
    assert!(!format!("{r:?}").contains("canary"), "{r:?}");
    let all = db.store.accounts().records().await.unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), [id, without]);
    assert_eq!(all[1].secret_sealed, None);
    assert_eq!(all[1].secret_updated_at, None);
    // The older list still sees both.
    assert_eq!(db.store.accounts().list().await.unwrap().len(), 2);

    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let adds: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.event.action == "account.add")
        .collect();
    assert_eq!(adds.len(), 2);
    assert_eq!(adds[0].entry.event.subjects["account"], id.to_string());
    assert_eq!(
        adds[0].entry.event.outcome.as_deref(),
        Some("secret sealed")
    );
    assert_eq!(adds[1].entry.event.outcome.as_deref(), Some("no secret"));
    let text = format!("{entries:?}");
    assert!(!text.contains("canary"));
}

async fn a_seal_that_fails_leaves_neither_the_account_nor_its_audit_entry(db: &TestDb) {
    let err = db
        .store
        .accounts()
        .add_sealed("ana", &telegram("@a"), &json!({}), |id| {
            Err(format!("sealing for account {id} failed"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Sealing(_)), "{err:?}");
    assert!(db.store.accounts().records().await.unwrap().is_empty());
    assert!(actions(db).await.is_empty());
    // The handle is free: nothing of the failed add stayed.
    db.store
        .accounts()
        .add_sealed("ana", &telegram("@a"), &json!({}), |id| {
            Ok(Some(seal(1, id, TOKEN)))
        })
        .await
        .unwrap();
}

async fn status_changes_secret_replacement_and_disabling_are_audited_and_keep_history(db: &TestDb) {
    let id = db
        .store
        .accounts()
        .add_sealed("ana", &telegram("@a"), &json!({}), |id| {
            Ok(Some(seal(1, id, TOKEN)))
        })
        .await
        .unwrap();
    let s = &db.store;
    assert!(s
        .accounts()
        .set_status("system", id, AccountStatus::AuthFailed, Some("HTTP 401"))
        .await
        .unwrap());
    // The same status again updates the detail but is no new audit entry.
    assert!(!s
        .accounts()
        .set_status(
            "system",
            id,
            AccountStatus::AuthFailed,
            Some("HTTP 401 again")
        )
        .await
        .unwrap());
    let r = s.accounts().get(id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.status_detail.as_deref()),
        (AccountStatus::AuthFailed, Some("HTTP 401 again"))
    );
    assert!(s
        .accounts()
        .set_status("x", id, AccountStatus::Disabled, None)
        .await
        .is_err());

    db.clock.advance(chrono::Duration::minutes(5));
    s.accounts()
        .replace_secret("ana", id, &seal(1, id, b"new-token"))
        .await
        .unwrap();
    let r = s.accounts().get(id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.status_detail),
        (AccountStatus::Connected, None)
    );
    assert_eq!(
        open(1, id, r.secret_sealed.as_deref().unwrap()).unwrap(),
        b"new-token"
    );
    assert_eq!(r.secret_updated_at, Some(s.now()));

    s.accounts().disable("ana", id).await.unwrap();
    let r = s.accounts().get(id).await.unwrap().unwrap();
    assert_eq!(r.status, AccountStatus::Disabled);
    assert_eq!(r.status_detail.as_deref(), Some("disabled by ana"));
    assert!(r.secret_sealed.is_some(), "the row keeps its history");
    assert!(matches!(
        s.accounts().disable("ana", id).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert!(matches!(
        s.accounts()
            .replace_secret("ana", id, b"x")
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert!(!s
        .accounts()
        .set_status("system", id, AccountStatus::Connected, None)
        .await
        .unwrap());
    assert_eq!(
        s.accounts().get(id).await.unwrap().unwrap().status,
        AccountStatus::Disabled
    );
    assert!(matches!(
        s.accounts().disable("ana", 999).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
    let sandbox = s
        .accounts()
        .add(
            "ana",
            &NewAccount {
                platform: Platform::Sandbox,
                stands_for: Some(Platform::X),
                handle: "sandbox:x:1".into(),
                display_name: "S".into(),
                sandbox: true,
                groups: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        s.accounts()
            .replace_secret("ana", sandbox, b"x")
            .await
            .unwrap_err(),
        StoreError::Conflict(_)
    ));

    let got = actions(db).await;
    let names: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "account.add",
            "account.status",
            "account.secret_replace",
            "account.disable",
            "account.add"
        ]
    );
    assert_eq!(got[1].1.as_deref(), Some("auth_failed"));
    let kept = db.store.kept_checkpoint().unwrap();
    assert!(db
        .store
        .audit()
        .verify_live(kept.as_deref())
        .await
        .unwrap()
        .is_ok());
}

async fn rotation_reseals_every_secret_or_none(db: &TestDb) {
    let s = &db.store;
    let a = s
        .accounts()
        .add_sealed("ana", &telegram("@a"), &json!({}), |id| {
            Ok(Some(seal(1, id, b"token-a")))
        })
        .await
        .unwrap();
    let b = s
        .accounts()
        .add_sealed("ana", &telegram("@b"), &json!({}), |id| {
            Ok(Some(seal(1, id, b"token-b")))
        })
        .await
        .unwrap();
    s.accounts()
        .add_sealed("ana", &telegram("@c"), &json!({}), |_| Ok(None))
        .await
        .unwrap();
    let user = s
        .people()
        .add(
            "ana",
            &NewUser {
                name: "dana".into(),
                role: "drafter".into(),
                password_hash: "$argon2id$stand-in".into(),
            },
        )
        .await
        .unwrap();
    let mut tx = s.begin().await.unwrap();
    tx.people()
        .set_totp_secret("ana", "dana", &seal(1, user, b"JBSWY3DP"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let snapshot = || async {
        let accounts: Vec<Option<Vec<u8>>> = s
            .accounts()
            .records()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.secret_sealed)
            .collect();
        let totp = s
            .people()
            .record("dana")
            .await
            .unwrap()
            .unwrap()
            .totp_secret_sealed;
        (accounts, totp)
    };
    let before = snapshot().await;

    // A value that does not open under the old key stops everything.
    let err = s
        .accounts()
        .rotate_sealed("cli:root", |v| {
            if v.kind == SealedKind::TotpSecret {
                return Err(format!("user {}'s second factor did not open", v.owner));
            }
            let plain = open(1, v.owner, v.sealed)?;
            Ok(seal(2, v.owner, &plain))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Sealing(_)), "{err:?}");
    assert_eq!(snapshot().await, before, "nothing was re-sealed");
    assert!(!actions(db)
        .await
        .iter()
        .any(|(a, _)| a == "secrets.rotate_key"));

    let mut seen = Vec::new();
    let rotated = s
        .accounts()
        .rotate_sealed("cli:root", |v| {
            seen.push((v.kind, v.owner));
            let plain = open(1, v.owner, v.sealed)?;
            Ok(seal(2, v.owner, &plain))
        })
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotated {
            account_secrets: 2,
            totp_secrets: 1
        }
    );
    assert_eq!(
        seen,
        [
            (SealedKind::AccountSecret, a),
            (SealedKind::AccountSecret, b),
            (SealedKind::TotpSecret, user)
        ]
    );
    let (accounts, totp) = snapshot().await;
    assert_eq!(
        open(2, a, accounts[0].as_deref().unwrap()).unwrap(),
        b"token-a"
    );
    assert_eq!(
        open(2, b, accounts[1].as_deref().unwrap()).unwrap(),
        b"token-b"
    );
    assert_eq!(accounts[2], None);
    assert_eq!(
        open(2, user, totp.as_deref().unwrap()).unwrap(),
        b"JBSWY3DP"
    );
    let last = actions(db).await.pop().unwrap();
    assert_eq!(
        last,
        (
            "secrets.rotate_key".to_string(),
            Some("2 account secrets and 1 second-factor secrets re-sealed".to_string())
        )
    );
}

async fn groups_are_stored_with_an_account_replaced_whole_and_audited(db: &TestDb) {
    let changes_before = db.store.accounts().change_count().await.unwrap();
    let mut public = telegram("@public");
    public.groups = vec!["public".into(), "staff".into()];
    let a = db
        .store
        .accounts()
        .add_sealed("ana", &public, &json!({}), |_| Ok(None))
        .await
        .unwrap();
    let b = db
        .store
        .accounts()
        .add("ana", &telegram("@none"))
        .await
        .unwrap();
    let list = db.store.accounts().list().await.unwrap();
    assert_eq!(list[0].groups, ["public", "staff"]);
    assert!(list[1].groups.is_empty());
    assert_eq!(
        db.store.accounts().get(a).await.unwrap().unwrap().groups,
        ["public", "staff"]
    );

    db.store
        .accounts()
        .set_groups("ben", b, &["residents-sms".to_string()])
        .await
        .unwrap();
    db.store.accounts().set_groups("ben", a, &[]).await.unwrap();
    let records = db.store.accounts().records().await.unwrap();
    assert!(records[0].groups.is_empty());
    assert_eq!(records[1].groups, ["residents-sms"]);
    let all = db.store.accounts().all_groups().await.unwrap();
    assert_eq!(all.get(&b).unwrap(), &["residents-sms".to_string()]);
    assert!(!all.contains_key(&a));
    // Nobody is in `public` or `staff` any more: they stay known, empty.
    assert_eq!(
        db.store.accounts().group_names().await.unwrap(),
        ["public", "residents-sms", "staff"]
    );
    assert!(
        db.store.accounts().change_count().await.unwrap() > changes_before + 2,
        "a change of groups is a change running servers notice"
    );
    // A disabled account can still be regrouped; an unknown one is not found.
    db.store.accounts().disable("ben", b).await.unwrap();
    db.store
        .accounts()
        .set_groups("ben", b, &["staff".to_string()])
        .await
        .unwrap();
    assert!(matches!(
        db.store.accounts().set_groups("ben", 999, &[]).await,
        Err(StoreError::NotFound(_))
    ));

    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let add = entries
        .iter()
        .find(|e| e.entry.event.action == "account.add")
        .unwrap();
    assert_eq!(add.entry.event.subjects["groups"], "public,staff");
    let regroups: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.event.action == "account.groups")
        .map(|e| e.entry.event.outcome.clone().unwrap_or_default())
        .collect();
    assert_eq!(regroups, ["residents-sms", "no groups", "staff"]);
}

async fn languages_are_the_primary_until_set_then_stored_audited_and_noticed(db: &TestDb) {
    use tocsin_domain::account_languages::{AccountLanguages, LanguagePosts};
    let a = db
        .store
        .accounts()
        .add("ana", &telegram("@bilingual"))
        .await
        .unwrap();
    let record = db.store.accounts().get(a).await.unwrap().unwrap();
    assert_eq!(record.languages, AccountLanguages::default());
    let changes_before = db.store.accounts().change_count().await.unwrap();
    let both = AccountLanguages::parse("en, es", "together").unwrap();
    db.store
        .accounts()
        .set_languages("ben", a, &both)
        .await
        .unwrap();
    let record = db.store.accounts().get(a).await.unwrap().unwrap();
    assert_eq!(record.languages, both);
    assert_eq!(record.languages.posts, LanguagePosts::Together);
    assert_eq!(
        db.store.accounts().records().await.unwrap()[0].languages,
        both
    );
    assert!(
        db.store.accounts().change_count().await.unwrap() > changes_before,
        "a change of languages is a change running servers notice"
    );
    assert!(matches!(
        db.store.accounts().set_languages("ben", 999, &both).await,
        Err(StoreError::NotFound(_))
    ));
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let set = entries
        .iter()
        .find(|e| e.entry.event.action == "account.languages")
        .expect("audited");
    assert_eq!(set.entry.event.actor, "ben");
    assert_eq!(set.entry.event.outcome.as_deref(), Some("en,es together"));
}

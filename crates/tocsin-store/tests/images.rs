//! Uploaded images and the images of messages, on SQLite and on PostgreSQL: kept once by
//! hash, audited by hash (never the bytes), attached in order with their alt text, and
//! carried by a repeat.

use crate::support::TestDb;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::images::{MessageImage, NewImage, ServedFile};
use tocsin_store::outbox::Placement;
use tocsin_store::*;

crate::on_both_backends!(
    an_image_is_kept_once_by_hash_and_its_upload_audited_without_its_bytes,
    a_message_carries_its_images_in_order_with_their_alt_text,
    an_image_link_serves_only_while_a_delivery_to_a_fetching_platform_needs_it,
);

fn image(byte: u8) -> NewImage {
    let bytes = vec![byte; 64];
    NewImage {
        sha256: format!("{byte:02x}").repeat(32),
        media_type: "image/png".into(),
        width: 640,
        height: 480,
        bytes,
    }
}

async fn account(db: &TestDb, platform: Platform, handle: &str) -> i64 {
    db.store
        .accounts()
        .add(
            "admin",
            &NewAccount {
                platform,
                stands_for: None,
                handle: handle.into(),
                display_name: "Health".into(),
                sandbox: false,
                groups: Vec::new(),
            },
        )
        .await
        .unwrap()
}

/// A message approved from a new draft with one text for `target`, for `accounts`:
/// placed in the transaction answered with it (still open, for its images).
async fn placed<'s>(db: &'s TestDb, target: &str, accounts: &[i64]) -> (Tx<'s>, i64) {
    let variants = vec![RenderedVariant {
        target: TextTarget::parse(target).unwrap(),
        body: "Boil water.".into(),
    }];
    let draft_id = db
        .store
        .drafts()
        .insert(&NewDraft {
            playbook_id: "boil-water".into(),
            step_id: "initial".into(),
            content_hash: "sha256:bw".into(),
            variables_json: "{}".into(),
            created_by: "dana".into(),
            exercise: false,
            variants: variants.clone(),
        })
        .await
        .unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let message = tx
        .outbox()
        .place_message(
            &NewMessage {
                draft_id,
                approved_by: "alex".into(),
                exercise: false,
                break_glass: false,
                variants,
                account_ids: accounts.to_vec(),
                targets: None,
            },
            &Placement::default(),
        )
        .await
        .unwrap();
    (tx, message)
}

async fn an_image_is_kept_once_by_hash_and_its_upload_audited_without_its_bytes(db: &TestDb) {
    let first = image(0xAB);
    assert!(db.store.images().put("dana", &first).await.unwrap());
    // The same bytes again: still one image, first uploader kept, the upload audited.
    assert!(!db.store.images().put("alex", &first).await.unwrap());
    assert_eq!(db.store.images().count().await.unwrap(), 1);
    let kept = db.store.images().get(&first.sha256).await.unwrap().unwrap();
    assert_eq!(kept.bytes, first.bytes);
    assert_eq!((kept.width, kept.height), (640, 480));
    assert_eq!(kept.media_type, "image/png");
    assert_eq!(kept.uploaded_by, "dana");
    assert_eq!(
        db.store.images().facts(&first.sha256).await.unwrap(),
        Some(("image/png".to_string(), 640, 480, 64))
    );
    assert!(db
        .store
        .images()
        .get(&"00".repeat(32))
        .await
        .unwrap()
        .is_none());

    let events = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let uploads: Vec<_> = events
        .iter()
        .map(|e| &e.entry.event)
        .filter(|e| e.action == "image.upload")
        .collect();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].actor, "dana");
    assert_eq!(
        uploads[0].subjects.get("image").map(String::as_str),
        Some(first.sha256.as_str())
    );
    assert!(uploads[1]
        .outcome
        .as_deref()
        .is_some_and(|o| o.contains("already stored")));
}

async fn a_message_carries_its_images_in_order_with_their_alt_text(db: &TestDb) {
    let (a, b) = (image(0x01), image(0x02));
    db.store.images().put("dana", &a).await.unwrap();
    db.store.images().put("dana", &b).await.unwrap();
    let account = account(db, Platform::Mastodon, "@health@example.social").await;
    let (mut tx, message) = placed(db, "mastodon", &[account]).await;
    let attached = [
        MessageImage {
            sha256: b.sha256.clone(),
            alt: "Map of the North Side boil-water area".into(),
            square: None,
        },
        MessageImage {
            sha256: a.sha256.clone(),
            alt: "Three steps: boil, cool, drink".into(),
            square: None,
        },
    ];
    tx.images().attach(message, &attached).await.unwrap();
    tx.commit().await.unwrap();

    let read = db.store.images().of_message(message).await.unwrap();
    let got: Vec<MessageImage> = read.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(got, attached);
    assert_eq!(read[0].1.bytes, b.bytes);
    assert!(db
        .store
        .images()
        .of_message(message + 1)
        .await
        .unwrap()
        .is_empty());

    // A message's images name stored images.
    let mut tx = db.store.begin().await.unwrap();
    let unknown = tx
        .images()
        .attach(
            message,
            &[MessageImage {
                sha256: "ff".repeat(32),
                alt: "x".into(),
                square: None,
            }],
        )
        .await;
    assert!(
        unknown.is_err(),
        "an image that was never stored is refused"
    );
}

async fn an_image_link_serves_only_while_a_delivery_to_a_fetching_platform_needs_it(db: &TestDb) {
    let (card, square) = (image(0x11), image(0x12));
    db.store.images().put("dana", &card).await.unwrap();
    db.store.images().put("dana", &square).await.unwrap();
    let accounts = vec![
        account(db, Platform::Instagram, "cityhealth").await,
        account(db, Platform::Mastodon, "@health@example.social").await,
    ];
    let (mut tx, message) = placed(db, "instagram", &accounts).await;
    tx.images()
        .attach(
            message,
            &[MessageImage {
                sha256: card.sha256.clone(),
                alt: "Boil-water card".into(),
                square: Some(square.sha256.clone()),
            }],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let sending = db.store.images().for_sending(message).await.unwrap();
    assert_eq!(sending.len(), 1);
    assert_eq!(sending[0].file.sha256, card.sha256);
    assert_eq!(
        sending[0].square.as_ref().map(|s| s.sha256.as_str()),
        Some(square.sha256.as_str())
    );
    let token = sending[0].public_token.clone().expect("a fresh link");
    assert_eq!(token.len(), 43, "32 random bytes in URL-safe base64");

    let fetching = [Platform::Instagram, Platform::Threads];
    let served = |which| {
        let store = db.store.clone();
        let token = token.clone();
        async move {
            store
                .images()
                .served(&token, which, &fetching)
                .await
                .unwrap()
                .map(|i| i.sha256)
        }
    };
    // The Instagram delivery is pending: both files are served under the link.
    assert_eq!(served(ServedFile::Image).await, Some(card.sha256.clone()));
    assert_eq!(
        served(ServedFile::Square).await,
        Some(square.sha256.clone())
    );
    // A token that names nothing, or no fetching platform: nothing.
    assert!(db
        .store
        .images()
        .served(&"A".repeat(43), ServedFile::Image, &fetching)
        .await
        .unwrap()
        .is_none());
    assert!(db
        .store
        .images()
        .served(&token, ServedFile::Image, &[Platform::Threads])
        .await
        .unwrap()
        .is_none());
    // Once the Instagram delivery has ended, the link stops working, although the
    // Mastodon delivery (a platform that takes uploads) is still pending.
    db.sql(&format!(
        "UPDATE deliveries SET state = 'sent' WHERE message_id = {message} AND account_id = {}",
        accounts[0]
    ))
    .await;
    assert_eq!(served(ServedFile::Image).await, None);
    assert_eq!(served(ServedFile::Square).await, None);
}

//! Uploaded images and the images of messages, on SQLite and on PostgreSQL: kept once by
//! hash, audited by hash (never the bytes), attached in order with their alt text, and
//! carried by a repeat.

use crate::support::TestDb;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::images::{MessageImage, NewImage};
use tocsin_store::outbox::Placement;
use tocsin_store::*;

crate::on_both_backends!(
    an_image_is_kept_once_by_hash_and_its_upload_audited_without_its_bytes,
    a_message_carries_its_images_in_order_with_their_alt_text,
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
                groups: Vec::new(),
            },
        )
        .await
        .unwrap();
    let variants = vec![RenderedVariant {
        target: TextTarget::parse("mastodon").unwrap(),
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
                account_ids: vec![account],
                targets: None,
            },
            &Placement::default(),
        )
        .await
        .unwrap();
    let attached = [
        MessageImage {
            sha256: b.sha256.clone(),
            alt: "Map of the North Side boil-water area".into(),
        },
        MessageImage {
            sha256: a.sha256.clone(),
            alt: "Three steps: boil, cool, drink".into(),
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
            }],
        )
        .await;
    assert!(
        unknown.is_err(),
        "an image that was never stored is refused"
    );
}

//! Images over real HTTP: an upload checked by content and stored by hash, served back
//! as its stored type; a draft with images described, held to each platform's rules at
//! preview, its review made stale by a changed description, and its approved images
//! reaching every sandbox account that takes them, with their alt text; an alert card
//! attached in both sizes, its square version fetched by the strict Instagram fake from
//! `[server] public_url` while (and only while) the delivery needs it.

use serde_json::{json, Value};
use std::io::Cursor;
use tocsin_app::people::Role;

use crate::on_both_backends;
use crate::server_support::{Api, Srv};
use crate::support::Backend;

on_both_backends!(
    an_upload_is_checked_by_content_stored_by_hash_and_served_as_stored,
    a_draft_image_needs_a_description_that_fits_every_platform_and_reaches_the_accounts,
    an_attached_card_reaches_instagram_square_through_a_link_that_works_only_while_needed,
    a_scheduled_message_s_image_link_answers_with_safe_headers_until_it_is_cancelled,
);

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 11) as u8, (y * 13) as u8, 200])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(picture)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(api: &Api, bytes: Vec<u8>, content_type: &str) -> crate::server_support::Resp {
    api.send(
        api.http
            .post(api.url("/api/images"))
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

async fn an_upload_is_checked_by_content_stored_by_hash_and_served_as_stored(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("vic", Role::Viewer).await;
    let dana = s.sign_in("dana").await;

    // A PDF called a PNG is refused by what it is, and nothing is stored.
    let r = upload(&dana, b"%PDF-1.7 pretend".to_vec(), "image/png").await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "file");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("not an image: the file starts like a PDF"));
    let mut big = png(4, 4);
    big.resize(10_500_000, 0);
    let r = upload(&dana, big, "application/octet-stream").await;
    r.refused(422, "invalid");
    assert_eq!(
        r.body["error"]["message"],
        "image is 10.5 MB; the limit is 10 MB"
    );
    assert_eq!(s.store().images().count().await.unwrap(), 0);

    // A PNG sent as `application/octet-stream` is a PNG.
    let file = png(32, 24);
    let r = upload(&dana, file.clone(), "application/octet-stream").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sha = r.body["sha256"].as_str().unwrap().to_string();
    assert_eq!(r.body["media_type"], "image/png");
    assert_eq!(
        (r.body["width"].as_u64(), r.body["height"].as_u64()),
        (Some(32), Some(24))
    );
    assert_eq!(r.body["url"], format!("/api/images/{sha}"));
    let audit = s.audit().await;
    let up = audit.iter().find(|e| e.action == "image.upload").unwrap();
    assert_eq!(up.actor, "dana");
    assert_eq!(up.subjects.get("image"), Some(&sha));

    // Served to any signed-in user as its stored type, never sniffed.
    let vic = s.sign_in("vic").await;
    let got = vic.get(&format!("/api/images/{sha}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "image/png");
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(got.headers.contains_key("content-security-policy"));
    // A viewer cannot upload; nobody signed out can read.
    upload(&vic, file, "image/png")
        .await
        .refused(403, "forbidden");
    let r = s.client().get(&format!("/api/images/{sha}")).await;
    assert_eq!(r.status, 401);
    vic.get(&format!("/api/images/{}", "0".repeat(64)))
        .await
        .refused(404, "not_found");
    vic.get("/api/images/..%2Fetc")
        .await
        .refused(404, "not_found");
}

fn draft_form(values: &serde_json::Map<String, Value>, images: Value, targets: &Value) -> Value {
    json!({"playbook": "boil-water", "step": "alert", "values": values, "images": images,
           "targets": targets})
}

/// The boil-water audience without its Instagram stand-in (Instagram takes JPEG only,
/// and these images are PNG: that refusal is checked on its own).
fn not_instagram(s: &Srv) -> Value {
    let at = tocsin_connectors::ALL
        .iter()
        .position(|d| d.platform == tocsin_domain::Platform::Instagram)
        .unwrap();
    json!({"groups": ["public", "residents-sms", "partners"],
           "exclude_accounts": [s.harness.accounts[at]]})
}

async fn a_draft_image_needs_a_description_that_fits_every_platform_and_reaches_the_accounts(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let targets = not_instagram(&s);
    let sha = upload(&dana, png(40, 30), "image/png").await.ok()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let values = s.examples(&dana, "boil-water").await;

    // No description: refused naming the image.
    let r = dana
        .post(
            "/api/drafts",
            draft_form(&values, json!([{"sha256": sha}]), &targets),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "images.0.alt");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("image 1 has no description"));
    // A PNG for the whole audience: Instagram takes JPEG only, refused at preview.
    let r = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values,
                   "images": [{"sha256": sha, "alt": "A map of the area"}]}),
        )
        .await;
    r.refused(422, "invalid");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Instagram: takes JPEG only"),
        "{}",
        r.text
    );
    // A description over X's 1,000 characters: refused at preview, naming X.
    let long = "A map of the boil-water area. ".repeat(40);
    let r = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "targets": targets,
                   "images": [{"sha256": sha, "alt": long}]}),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "images.0.alt");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("X: takes descriptions up to 1000 characters"),
        "{message}"
    );
    // An image never uploaded.
    let r = dana
        .post(
            "/api/drafts",
            draft_form(
                &values,
                json!([{"sha256": "ab".repeat(32), "alt": "A map"}]),
                &targets,
            ),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "images.0.sha256");

    // Described: the preview shows it, and says who goes without it.
    let alt = "Map of the North Side boil-water area, bounded by Main Street and the river";
    let images = json!([{"sha256": sha, "alt": alt}]);
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "images": images, "targets": targets}),
        )
        .await
        .ok();
    assert_eq!(preview["images"]["items"][0]["alt"], alt);
    assert_eq!(
        preview["images"]["items"][0]["url"],
        format!("/api/images/{sha}")
    );
    let notes: Vec<&str> = preview["images"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(notes.contains(&"SMS: sent without the image"), "{notes:?}");
    assert!(preview["images"]["sent_without"]
        .as_array()
        .unwrap()
        .contains(&json!("sms")));

    let draft = dana
        .post("/api/drafts", draft_form(&values, images.clone(), &targets))
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let draft = draft.body;
    assert_eq!(draft["hash"], preview["hash"]);
    let id = draft["id"].as_i64().unwrap();
    let submitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();

    // The description changes after review: the reviewed hash no longer approves it.
    let reviewed = submitted["hash"].clone();
    let edited = dana
        .put(
            &format!("/api/drafts/{id}"),
            json!({"values": values, "images": [{"sha256": sha, "alt": "A map"}]}),
        )
        .await
        .ok();
    assert_ne!(
        edited["hash"], reviewed,
        "the alt text is part of what is reviewed"
    );
    let resubmitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let alex = s.sign_in("alex").await;
    let stale = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": reviewed, "acknowledge_reading_grade": true}),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.text);

    let published = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": resubmitted["hash"], "acknowledge_reading_grade": true}),
        )
        .await
        .ok();
    let message_id = published["message_id"].as_i64().unwrap();
    s.delivered(&alex, message_id).await;

    // Every sandbox account standing for a platform got the image with its alt text.
    let posts = s.harness.sandbox.posts();
    assert!(!posts.is_empty());
    for p in &posts {
        assert_eq!(p.post.images.len(), 1, "{}", p.account);
        let image = &p.post.images[0];
        assert_eq!(image.sha256, sha);
        assert_eq!(image.alt, "A map");
        assert_eq!(image.media_type, "image/png");
        assert_eq!((image.width, image.height), (40, 30));
        use sha2::Digest as _;
        assert_eq!(hex::encode(sha2::Sha256::digest(&image.bytes)), sha);
    }
}

async fn an_attached_card_reaches_instagram_square_through_a_link_that_works_only_while_needed(
    backend: Backend,
) {
    use std::sync::Arc;
    use tocsin_connector::http::{HttpClient, HttpLimits};
    use tocsin_connectors::instagram::InstagramConnector;
    use tocsin_connectors::AccountSpec;
    use tocsin_domain::Platform;
    use tocsin_test_support::instagram;

    let s = Srv::start_with(backend, |o| {
        o.sandbox_accounts = Vec::new();
        o.public_url_is_self = true;
    })
    .await;
    let fake = instagram::start().await.unwrap();
    let account = instagram_account(&s, |account| {
        let spec = AccountSpec {
            id: account.to_string(),
            platform: Platform::Instagram,
            name: "@countyhealth".into(),
            settings: json!({"base_url": fake.api_url(), "user_id": instagram::USER_ID}),
            secret: Some(secrecy::SecretString::from(instagram::TOKEN)),
        };
        let http = HttpClient::new(HttpLimits::default()).unwrap();
        Arc::new(
            InstagramConnector::from_spec(&spec, &http)
                .unwrap()
                .with_container_poll(std::time::Duration::from_millis(10)),
        )
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("vic", Role::Viewer).await;
    let dana = s.sign_in("dana").await;
    let values = s.examples(&dana, "boil-water").await;

    // The approver sees the account's publishing quota before approving.
    let quotas = dana
        .post("/api/accounts/quotas", json!({"accounts": [account]}))
        .await
        .ok();
    assert_eq!(quotas[0]["account"], account);
    assert_eq!(quotas[0]["used"], 0);
    assert_eq!(quotas[0]["total"], instagram::QUOTA_TOTAL);
    assert_eq!(quotas[0]["window_hours"], 24);
    assert_eq!(
        quotas[0]["summary"],
        format!(
            "Instagram: 0 of {} posts used in the last 24 hours",
            instagram::QUOTA_TOTAL
        )
    );
    fake.set_quota_used(instagram::QUOTA_TOTAL);
    let spent = dana
        .post("/api/accounts/quotas", json!({"accounts": [account]}))
        .await
        .ok();
    assert_eq!(spent[0]["exhausted"], true);
    assert!(spent[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("Instagram: limit reached"));
    fake.set_quota_used(0);
    dana.post("/api/accounts/quotas", json!({"accounts": [999_999]}))
        .await
        .refused(422, "invalid");

    // Without an image, the preview says Instagram takes no post without one.
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values}),
        )
        .await
        .ok();
    assert_eq!(preview["images"]["needs_image"], json!(["instagram"]));
    assert!(preview["images"]["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("Instagram: takes no post without an image"));

    // A viewer may preview the card but not keep it.
    let vic = s.sign_in("vic").await;
    let card_request = json!({"step": "alert", "values": values, "attach": true});
    vic.post("/api/playbooks/boil-water/card", card_request.clone())
        .await
        .refused(403, "forbidden");
    // The drafter keeps it: both sizes stored, the square one a 1080x1080 JPEG.
    let attached = dana
        .post("/api/playbooks/boil-water/card", card_request)
        .await
        .ok();
    let card = attached["image"].clone();
    let alt = card["alt"].as_str().unwrap().to_string();
    assert!(!alt.is_empty());
    assert!(attached.get("png").is_none());
    let square_sha = card["square"].as_str().unwrap().to_string();
    let square = dana
        .http
        .get(dana.url(&format!("/api/images/{square_sha}")))
        .send()
        .await
        .unwrap();
    assert_eq!(square.headers()["content-type"], "image/jpeg");
    let square_bytes = square.bytes().await.unwrap();
    let decoded = image::load_from_memory(&square_bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1080, 1080));
    let landscape = dana
        .http
        .get(dana.url(&format!("/api/images/{}", card["sha256"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(landscape.headers()["content-type"], "image/png");
    let decoded = image::load_from_memory(&landscape.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1200, 675));

    // A card drawn with other values than the draft's is refused: the picture would say
    // what the text no longer says.
    let mut changed = values.clone();
    changed.insert("area".into(), json!("the East Side"));
    let stale = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": changed, "images": [card]}),
        )
        .await;
    stale.refused(422, "invalid");
    assert_eq!(stale.body["error"]["field"], "images.0");
    assert!(stale.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("alert card drawn with other values"));

    // With the card, Instagram is held to the square JPEG (its PNG refusal would fire
    // otherwise) and the preview says it gets the square version.
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "images": [card]}),
        )
        .await
        .ok();
    assert!(preview["images"].get("needs_image").is_none());
    assert!(preview["images"]["notes"]
        .as_array()
        .unwrap()
        .contains(&json!("Instagram: sent the square version of the card")));
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values,
                   "images": [card]}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let id = draft.body["id"].as_i64().unwrap();
    let submitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let alex = s.sign_in("alex").await;
    let published = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"], "acknowledge_reading_grade": true}),
        )
        .await
        .ok();
    let message_id = published["message_id"].as_i64().unwrap();
    s.delivered(&alex, message_id).await;

    let after = dana
        .post("/api/accounts/quotas", json!({"accounts": [account]}))
        .await
        .ok();
    assert_eq!(after[0]["used"], 1, "the post counts against the quota");
    // Instagram fetched the square card from this server, with the card's alt text.
    let made = fake.published();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].image_bytes, square_bytes.len());
    assert_eq!(made[0].alt_text.as_deref(), Some(alt.as_str()));
    let link = made[0].image_url.clone();
    let prefix = format!("{}/media/", s.harness.url());
    assert!(
        link.starts_with(&prefix) && link.ends_with("/square"),
        "{link}"
    );
    // The delivery has ended: the link answers nothing any more.
    let after = reqwest::get(&link).await.unwrap();
    assert_eq!(after.status(), 404);
    // A guessed token is not found either.
    let guessed = reqwest::get(format!("{prefix}{}", "A".repeat(43)))
        .await
        .unwrap();
    assert_eq!(guessed.status(), 404);
}

/// The `/media/` link over HTTP while a delivery waits: a message for an Instagram
/// account approved to go out in an hour keeps its delivery pending, so its card is
/// served, with headers that keep it out of caches and search engines; once the message
/// is cancelled, the same link answers 404.
async fn a_scheduled_message_s_image_link_answers_with_safe_headers_until_it_is_cancelled(
    backend: Backend,
) {
    use std::sync::Arc;
    use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
    use tocsin_domain::Platform;
    let s = Srv::start_with(backend, |o| {
        o.sandbox_accounts = Vec::new();
        o.public_url_is_self = true;
    })
    .await;
    // An Instagram account (its connector is never reached: the message waits an hour).
    instagram_account(&s, |account| {
        Arc::new(SandboxConnector::standing_for(
            &account.to_string(),
            Arc::new(SandboxLog::default()),
            Platform::Instagram,
        ))
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let values = s.examples(&dana, "boil-water").await;
    let card = dana
        .post(
            "/api/playbooks/boil-water/card",
            json!({"step": "alert", "values": values, "attach": true}),
        )
        .await
        .ok()["image"]
        .clone();
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values,
                   "images": [card]}),
        )
        .await
        .ok();
    let id = draft["id"].as_i64().unwrap();
    let submitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let later = (s.harness.app.store().now() + chrono::Duration::hours(1)).to_rfc3339();
    let published = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"], "acknowledge_reading_grade": true,
                   "send_at": later}),
        )
        .await
        .ok();
    let message = published["message_id"].as_i64().unwrap();
    let images = s
        .harness
        .app
        .store()
        .images()
        .for_sending(message)
        .await
        .unwrap();
    let token = images[0].public_token.clone().unwrap();
    let link = format!("{}/media/{token}", s.harness.url());

    let plain = reqwest::get(&link).await.unwrap();
    assert_eq!(plain.status(), 200);
    let headers = plain.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-robots-tag"], "noindex");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(plain.bytes().await.unwrap(), images[0].file.bytes);
    let square = reqwest::get(format!("{link}/square")).await.unwrap();
    assert_eq!(square.status(), 200);
    assert_eq!(square.headers()["content-type"], "image/jpeg");
    assert_eq!(
        square.bytes().await.unwrap(),
        images[0].square.as_ref().unwrap().bytes
    );
    // A token of the wrong shape is not even looked up.
    let odd = reqwest::get(format!("{}/media/..%2F{token}", s.harness.url()))
        .await
        .unwrap();
    assert_eq!(odd.status(), 404);

    alex.post(&format!("/api/messages/{message}/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 404);
    assert_eq!(
        reqwest::get(format!("{link}/square"))
            .await
            .unwrap()
            .status(),
        404
    );
}

/// A public Instagram account, sending through the connector `connect` builds for its
/// id, with Instagram's image rules (the square version, links it fetches).
async fn instagram_account(
    s: &Srv,
    connect: impl FnOnce(i64) -> std::sync::Arc<dyn tocsin_connector::Connector>,
) -> i64 {
    use tocsin_domain::Platform;
    let account = s
        .harness
        .app
        .store()
        .accounts()
        .add(
            "admin",
            &tocsin_store::NewAccount {
                platform: Platform::Instagram,
                stands_for: None,
                handle: "@countyhealth".into(),
                display_name: "County Health".into(),
                sandbox: false,
                groups: vec!["public".into()],
            },
        )
        .await
        .unwrap();
    s.harness.app.routes().insert(
        account,
        tocsin_dispatch::AccountRoute::new(connect(account), "instagram")
            .with_images(tocsin_connectors::descriptor(Platform::Instagram).and_then(|d| d.images)),
    );
    account
}

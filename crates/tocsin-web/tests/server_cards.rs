//! The alert card over HTTP: `POST /api/playbooks/{id}/card` draws the step's card with
//! the typed values as a PNG data URL of the size asked for, with its alt text; signed
//! out is refused, and a card that cannot be drawn is a 422 naming why.

use base64::Engine as _;
use serde_json::{json, Value};
use tocsin_app::people::Role;

use crate::server_support::Srv;
use crate::support::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_endpoint_draws_the_step_card_with_its_alt_text() {
    let s = Srv::start(Backend::Sqlite).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let values = Value::Object(s.examples(&dana, "boil-water").await);

    for (size, w, h) in [("instagram", 1080u32, 1080u32), ("landscape", 1200, 675)] {
        let card = dana
            .post(
                "/api/playbooks/boil-water/card",
                json!({"step": "alert", "values": values, "size": size}),
            )
            .await
            .ok();
        assert_eq!(
            (card["width"].as_u64(), card["height"].as_u64()),
            (Some(w.into()), Some(h.into()))
        );
        let png = card["png"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let dims = (
            u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
            u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
        );
        assert_eq!(dims, (w, h));
        let alt = card["alt"].as_str().unwrap();
        assert!(
            alt.starts_with("Boil-water advisory for North Side"),
            "{alt}"
        );
    }

    // A step without a card, a value that overflows its box, signed out.
    dana.post(
        "/api/playbooks/boil-water/card",
        json!({"step": "update", "values": values}),
    )
    .await
    .refused(422, "invalid");
    let mut long = values.clone();
    long["area"] = json!("North Side ".repeat(10).trim_end());
    let r = dana
        .post(
            "/api/playbooks/boil-water/card",
            json!({"step": "alert", "values": long}),
        )
        .await;
    r.refused(422, "invalid");
    assert!(r.text.contains("card.headline"), "{}", r.text);
    s.client()
        .post(
            "/api/playbooks/boil-water/card",
            json!({"step": "alert", "values": values}),
        )
        .await
        .refused(401, "not_signed_in");
}

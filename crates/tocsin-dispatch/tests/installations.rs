//! Two installations (two databases: staging beside production, a rebuilt install) on
//! one platform credential: their idempotency keys carry each database's installation
//! id, so neither gets the other's post back as its own.

use std::time::Duration;
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::DeliveryState;
use tocsin_test_support::matrix::{v12_room_id, FakeMatrix};

use crate::on_both_backends;
use crate::support::{Backend, Deployment};

on_both_backends!(two_databases_on_one_matrix_token_both_post,);

async fn two_databases_on_one_matrix_token_both_post(backend: Backend) {
    let room = v12_room_id("alerts");
    let matrix = FakeMatrix::start("@tocsin:example.org", "one-token", &[&room])
        .await
        .unwrap();
    let settings = serde_json::json!({"homeserver": matrix.server.base_url, "room_id": room});
    let mut production = Deployment::new(backend, 0).await;
    let mut staging = Deployment::new(backend, 0).await;
    assert_ne!(
        production.store().installation_id(),
        staging.store().installation_id()
    );
    let mut messages = Vec::new();
    for (d, text) in [
        (&mut production, "Production: boil water."),
        (&mut staging, "Staging: boil water."),
    ] {
        let account = d
            .add_connected(Platform::Matrix, "alerts", settings.clone(), "one-token")
            .await;
        // Both databases number their first message and account alike.
        let m = d.approve(text, &[account], Placement::default()).await;
        d.settle(&d.dispatcher("node"), m, Duration::from_secs(10))
            .await;
        assert_eq!(d.states(m).await, vec![DeliveryState::Sent]);
        messages.push((m, account));
    }
    assert_eq!(messages[0], messages[1], "the same message and account ids");
    let bodies: Vec<String> = matrix
        .homeserver
        .messages(&room)
        .iter()
        .map(|e| e.content["body"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        bodies,
        vec!["Production: boil water.", "Staging: boil water."],
        "each installation's alert was posted"
    );
}

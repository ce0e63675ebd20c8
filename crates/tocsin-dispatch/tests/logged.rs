//! A delivery given up on is in the server log at the default level (`info`), once, with
//! its account and platform, and never with the secret the platform quoted back.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::DeliveryState;
use tocsin_test_support::{mastodon, Fault};

use crate::on_both_backends;
use crate::support::{Backend, Deployment};

on_both_backends!(a_failed_delivery_is_logged_once_with_account_and_platform_and_no_secret,);

fn captured() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Capture;
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // The server's default level.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

async fn a_failed_delivery_is_logged_once_with_account_and_platform_and_no_secret(
    backend: Backend,
) {
    captured();
    let token = format!("canary-log-token-{backend:?}-9d1e");
    let marker = format!("marker-{backend:?}-4b7c");
    let masto = mastodon::start().await.unwrap();
    masto.faults().push_fault(Fault::Status {
        code: 401,
        retry_after: None,
        body: format!("{{\"error\":\"The access token {token} is invalid ({marker})\"}}"),
    });
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Mastodon,
            "@health@fake",
            serde_json::json!({"base_url": masto.base_url}),
            &token,
        )
        .await;
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve("Air quality alert.", &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(10)).await;
    assert_eq!(d.states(m).await, vec![DeliveryState::Failed]);

    let logs = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&marker)).collect();
    assert_eq!(lines.len(), 1, "logged once: {lines:#?}");
    let line = lines[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("delivery failed"), "{line}");
    assert!(line.contains(&format!("account={acct}")), "{line}");
    assert!(line.contains(&format!("message_id={m}")), "{line}");
    assert!(line.contains("mastodon"), "{line}");
    assert!(line.contains("credentials"), "{line}");
    assert!(!logs.contains(&token), "no secret in the log: {logs}");
}

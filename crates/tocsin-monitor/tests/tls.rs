//! The monitor's streams trust what the deployment trusts: a Jetstream instance behind a
//! private CA (served over `wss://` through a TLS front) is refused with the bundled roots
//! alone, and heard once that CA is among the extra roots (`[tls] extra_ca_files`).

use std::collections::BTreeSet;
use tocsin_monitor::{spawn_jetstream_with, ExtraRoots, JetstreamStream, StreamState};
use tocsin_test_support::streaming;
use tocsin_test_support::tls::{tls_proxy, PrivateCa, Validity};
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::{connected, fast_backoff, next_post, until_state};

const DID: &str = "did:plc:tlsfront";

#[tokio::test]
async fn a_stream_behind_a_private_ca_is_heard_only_when_that_ca_is_trusted() {
    let fake = streaming::start_jetstream().await.expect("fake");
    let mut ca = PrivateCa::new().expect("ca");
    let leaf = ca.issue(&["localhost"], Validity::Current).expect("leaf");
    let front = tls_proxy(&leaf, fake.addr).await.expect("tls front");
    let url = Url::parse(&format!("wss://localhost:{}", front.port())).expect("url");
    let tags: BTreeSet<String> = ["stvknee".to_string()].into_iter().collect();

    // The bundled roots alone: the certificate is refused, and the panel is told why.
    let (_keep, tags_rx) = watch::channel(tags.clone());
    let (tx, mut rx) = mpsc::channel(64);
    let untrusted = spawn_jetstream_with(
        JetstreamStream {
            url: url.clone(),
            tags: tags_rx,
        },
        fast_backoff(),
        tocsin_monitor::DEFAULT_READ_TIMEOUT,
        ExtraRoots::default(),
        tx,
    );
    let refused = until_state(&mut rx, |s| matches!(s, StreamState::Reconnecting { .. })).await;
    match &refused {
        StreamState::Reconnecting { last_error, .. } => {
            assert!(
                last_error.contains("TLS") || last_error.contains("certificate"),
                "{last_error}"
            );
        }
        other => panic!("{other:?}"),
    }
    untrusted.stop();

    // The private CA among the extra roots: connected, and a post is heard.
    let (_keep, tags_rx) = watch::channel(tags);
    let (tx, mut rx) = mpsc::channel(64);
    let _trusted = spawn_jetstream_with(
        JetstreamStream { url, tags: tags_rx },
        fast_backoff(),
        tocsin_monitor::DEFAULT_READ_TIMEOUT,
        ExtraRoots::new(ca.certificates().expect("ca der")),
        tx,
    );
    connected(&mut rx).await;
    fake.push_post(
        DID,
        "3ktls",
        "Heard through TLS #StvKnee",
        &["StvKnee"],
        5_000,
    );
    let post = next_post(&mut rx).await;
    assert!(post.text.contains("Heard through TLS"), "{post:?}");
}

//! The cases every connector runs, generic over its [`Subject`]: what each kind of
//! failure must become, and that the capabilities its descriptor declares are true (a
//! platform that cannot delete must say `Unsupported`, one that can must do it).

use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, RemotePost};
use tocsin_test_support::smtp::{SmtpFault, SmtpStage};
use tocsin_test_support::Fault;

use crate::subject::{
    descriptor, missing_post, secrets, spec, ImagesSeen, Injection, Subject, Transport, Wait,
};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

/// The subject's connector, built by its descriptor as the app builds it.
fn connector<S: Subject>(subject: &S) -> Arc<dyn Connector> {
    (descriptor::<S>().build)(&spec(subject), &http()).unwrap()
}

/// A post as the subject's platform takes it (with an image where it needs one).
fn post<S: Subject>(subject: &S, key: &str) -> OutgoingPost {
    subject.dress(OutgoingPost::new(
        key,
        format!("Conformance check {key}: boil water until further notice."),
    ))
}

/// Fails unless `err` and its `Debug` leave out every secret.
fn shows_no_secret<S: Subject>(subject: &S, err: &ConnectorError) {
    let shown = format!("{err} {err:?}");
    for secret in secrets(subject) {
        assert!(
            !shown.contains(&secret),
            "the error shows a secret: {shown}"
        );
    }
}

fn inject<S: Subject>(subject: &S, injection: Injection) {
    match (subject.transport(), injection) {
        (Transport::Http { faults, post_route }, Injection::Http(fault)) => {
            faults.push_fault_at(post_route, fault);
        }
        (Transport::Smtp(state), Injection::Smtp(fault)) => state.push_fault(fault),
        (_, injection) => panic!("{injection:?} does not suit this transport"),
    }
}

/// The same failure in HTTP's and SMTP's terms.
fn either<S: Subject>(subject: &S, http: Fault, smtp: SmtpFault) -> Injection {
    match subject.transport() {
        Transport::Http { .. } => Injection::Http(http),
        Transport::Smtp(_) => Injection::Smtp(smtp),
    }
}

pub async fn a_server_error_is_transient_and_posts_nothing<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let failure = either(
        &subject,
        Fault::unavailable(),
        SmtpFault::Reply {
            stage: SmtpStage::MailFrom,
            code: 451,
        },
    );
    inject(&subject, failure);
    let err = connector.post(&post(&subject, "k-5xx")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(subject.posts(), 0);
}

pub async fn refused_credentials_are_an_auth_error_that_never_shows_the_secret<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    match subject.transport() {
        // A platform that quotes the refused secret back must not get it into the error.
        Transport::Http { faults, .. } => {
            let refusal = subject.refusal(&secrets(&subject).join(" "));
            faults.plan(|p| p.reject_with = Some(refusal));
        }
        Transport::Smtp(state) => state.push_fault(SmtpFault::Reply {
            stage: SmtpStage::Auth,
            code: 535,
        }),
    }
    let err = connector.post(&post(&subject, "k-401")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    shows_no_secret(&subject, &err);
    let shown = format!("{connector:?}");
    for secret in secrets(&subject) {
        assert!(!shown.contains(&secret), "Debug shows a secret: {shown}");
    }
    assert_eq!(subject.posts(), 0);
}

pub async fn a_malformed_answer_is_a_clear_unknown_outcome<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let garbled = either(
        &subject,
        Fault::Malformed,
        // No SMTP reply starts with 9: the answer after the message is unreadable.
        SmtpFault::Reply {
            stage: SmtpStage::EndOfData,
            code: 999,
        },
    );
    inject(&subject, garbled);
    let outcome = connector.post(&post(&subject, "k-garbled")).await;
    if subject.reads_answers() {
        let err = outcome.unwrap_err();
        // The platform acted on it: a plain failure would be sent again blindly.
        assert!(matches!(err, ConnectorError::Unknown(_)), "{err:?}");
        assert!(err.to_string().len() > "outcome unknown: ".len(), "{err}");
        shows_no_secret(&subject, &err);
    } else {
        outcome.unwrap();
    }
    assert_eq!(subject.posts(), 1, "the platform acted on the post");
}

pub async fn each_rate_limit_dialect_gives_the_wait_the_platform_asked_for<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let throttles = subject.throttles();
    assert!(
        !throttles.is_empty(),
        "every platform says slow down somehow"
    );
    for throttle in throttles {
        inject(&subject, throttle.inject.clone());
        let err = connector.post(&post(&subject, "k-429")).await.unwrap_err();
        match (throttle.wait, &err) {
            (Wait::About(want), ConnectorError::RateLimited { retry_after, .. }) => {
                let got = retry_after
                    .unwrap_or_else(|| panic!("{}: no wait in {err:?}", throttle.dialect));
                let off = got.abs_diff(want);
                assert!(
                    off <= Duration::from_secs(2),
                    "{}: waits {got:?}, asked {want:?}",
                    throttle.dialect
                );
            }
            (Wait::NotSaid, e) => assert!(e.is_transient(), "{}: {e:?}", throttle.dialect),
            (_, e) => panic!("{}: expected a rate limit, got {e:?}", throttle.dialect),
        }
        shows_no_secret(&subject, &err);
    }
    assert_eq!(subject.posts(), 0);
}

pub async fn a_dropped_answer_to_an_accepted_post_is_unknown_and_can_be_settled<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let caps = descriptor::<S>().capabilities;
    let dropped = either(&subject, Fault::DropAfterAccept, SmtpFault::DropAfterData);
    inject(&subject, dropped);
    let sent = post(&subject, "k-dropped");
    let err = connector.post(&sent).await.unwrap_err();
    // Never a silent success, never a plain failure that would be re-sent blindly.
    assert!(matches!(err, ConnectorError::Unknown(_)), "{err:?}");
    shows_no_secret(&subject, &err);
    assert_eq!(subject.posts(), 1, "the platform acted on the post");
    if caps.lookup {
        let found = connector.lookup(&sent).await.unwrap();
        assert!(
            found.is_some(),
            "lookup finds the post the answer was lost for"
        );
    }
    if caps.idempotency_key {
        connector.post(&sent).await.unwrap();
        assert_eq!(
            subject.posts(),
            1,
            "the repeat with the same key is the same post"
        );
    }
}

pub async fn looking_up_a_post_never_made_is_none_or_unsupported<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let found = connector.lookup(&post(&subject, "k-never-sent")).await;
    if descriptor::<S>().capabilities.lookup {
        assert_eq!(found.unwrap(), None);
    } else {
        let err = found.unwrap_err();
        assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");
    }
}

pub async fn deleting_a_post_that_is_gone_is_done_or_unsupported<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let can = descriptor::<S>().capabilities.delete;
    assert_eq!(connector.can_delete(), can);
    let missing = missing_post(&subject);
    let outcome = connector.delete(&missing).await;
    if can {
        // Already gone is what a retraction wants.
        outcome.unwrap();
    } else {
        let err = outcome.unwrap_err();
        assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");
    }
}

pub async fn a_hostile_post_id_never_reaches_another_path<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let hostile = RemotePost {
        id: "../../../../hostile-target".into(),
        url: None,
        extra: Some("../../hostile-target".into()),
    };
    let outcome = connector.delete(&hostile).await;
    if let Err(err) = &outcome {
        assert!(
            matches!(
                err,
                ConnectorError::Permanent(_) | ConnectorError::Unsupported(_)
            ),
            "{err:?}"
        );
    }
    if let Transport::Http { faults, .. } = subject.transport() {
        for request in faults.requests() {
            assert!(
                !request.path.contains("/hostile-target") && !request.path.contains("/../"),
                "{} {} reached the platform",
                request.method,
                request.path
            );
        }
    }
}

pub async fn a_post_can_be_deleted_twice_where_the_platform_deletes<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let made = connector.post(&post(&subject, "k-delete")).await.unwrap();
    let first = connector.delete(&made.remote).await;
    let live = subject.live();
    let second = connector.delete(&made.remote).await;
    if descriptor::<S>().capabilities.delete {
        first.unwrap();
        assert_eq!(live, 0, "the post is gone from the platform");
        second.unwrap();
    } else {
        for outcome in [first, second] {
            let err = outcome.unwrap_err();
            assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");
        }
    }
}

pub async fn replies_thread_exactly_where_the_platform_threads<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let parent = connector
        .post(&post(&subject, "k-parent"))
        .await
        .unwrap()
        .remote;
    let mut reply = post(&subject, "k-reply");
    reply.reply_to = Some(parent.clone());
    reply.thread_root = Some(parent.clone());
    connector.post(&reply).await.unwrap();
    assert_eq!(subject.posts(), 2);
    assert_eq!(
        subject.replies_to(&parent),
        descriptor::<S>().capabilities.reply
    );
}

pub async fn a_live_sessions_chain_of_updates_all_post_and_are_found<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let root = connector
        .post(&post(&subject, "k-root"))
        .await
        .unwrap()
        .remote;
    let mut previous = root.clone();
    for n in 1..=3 {
        // Each update answers the one before, in the thread the first post began.
        let mut update = post(&subject, &format!("k-update-{n}"));
        update.reply_to = Some(previous.clone());
        update.thread_root = Some(root.clone());
        previous = connector.post(&update).await.unwrap().remote;
        if descriptor::<S>().capabilities.lookup {
            let found = connector.lookup(&update).await.unwrap();
            assert_eq!(found.map(|f| f.id), Some(previous.id.clone()));
        }
    }
    assert_eq!(subject.posts(), 4);
}

pub async fn the_idempotency_key_is_honoured_exactly_where_declared<S: Subject>() {
    let subject = S::start().await;
    let connector = connector(&subject);
    let declared = descriptor::<S>().capabilities.idempotency_key;
    assert_eq!(connector.idempotent(), declared);
    if declared {
        let once = connector.post(&post(&subject, "k-same")).await.unwrap();
        let again = connector.post(&post(&subject, "k-same")).await.unwrap();
        assert_eq!(once.remote.id, again.remote.id);
        assert_eq!(subject.posts(), 1);
    }
}

pub async fn the_descriptor_builds_its_platforms_connector_and_wants_its_secret<S: Subject>() {
    let subject = S::start().await;
    let d = descriptor::<S>();
    let built = connector(&subject);
    assert_eq!(built.platform(), d.platform);
    // A platform whose secret is optional (SMTP without AUTH) checks it against other
    // settings in its own tests.
    if d.secret.required {
        let mut without = spec(&subject);
        without.secret = None;
        let err = (d.build)(&without, &http()).err().unwrap();
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    }
}

/// A post with two described images arrives with both descriptions in order where the
/// platform takes images (or both images, where it has no description field), and as
/// its text alone where it takes none.
pub async fn a_post_with_images_arrives_with_every_description_or_as_text_alone<S: Subject>() {
    use tocsin_test_support::images::{self, CARD_PNG, MAP_PNG};
    let subject = S::start().await;
    subject.grant_media();
    let connector = connector(&subject);
    let image = |bytes: &'static [u8], width, height, alt: &str| tocsin_connector::PostImage {
        sha256: images::sha256_hex(bytes),
        media_type: "image/png".into(),
        width,
        height,
        alt: alt.into(),
        bytes: bytes::Bytes::from_static(bytes),
        public_url: None,
    };
    let mut with_images = post(&subject, "img-1");
    with_images.images = vec![
        image(
            MAP_PNG,
            images::MAP_WIDTH,
            images::MAP_HEIGHT,
            "Map of the boil-water area.",
        ),
        image(
            CARD_PNG,
            images::CARD_WIDTH,
            images::CARD_HEIGHT,
            "Card: boil water one minute.",
        ),
    ];
    let before = subject.posts();
    let result = connector.post(&with_images).await;
    if subject.images_seen() == ImagesSeen::RefusedBeforeSending {
        let err = result.err().unwrap();
        assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
        assert_eq!(subject.posts(), before, "nothing was posted");
        return;
    }
    result.unwrap();
    assert!(subject.posts() > before, "the post arrived");
    match subject.images_seen() {
        ImagesSeen::Described(alts) => assert_eq!(
            alts,
            [
                "Map of the boil-water area.",
                "Card: boil water one minute."
            ]
        ),
        ImagesSeen::Undescribed(count) => assert_eq!(count, 2),
        ImagesSeen::TextAlone => assert_eq!(subject.posts(), before + 1, "one post, the text"),
        ImagesSeen::RefusedBeforeSending => unreachable!("handled above"),
    }
}

//! Before sending again a post that may already be on the platform, look it up.
//!
//! A delivery whose last answer was lost (`unknown`), or whose claim was taken over from
//! an expired lease (`sending`: the previous owner may have sent it), is looked up first
//! where the platform has no idempotency key. Only a post that is not there is sent, so a
//! lost answer never becomes a second post. Where the platform cannot be looked up
//! (email, SMS, Telegram, Teams, Discord), either stops for a person: leases are renewed
//! while a send runs, so a taken-over claim means its node stopped, perhaps mid-send. A
//! lookup that cannot succeed (refused for good: a missing permission, a revoked token, a
//! setting) or keeps failing ends the delivery as "confirm by hand", with the reason,
//! instead of looping as unknown.

use tocsin_connector::{Connector, ConnectorError, OutgoingPost, RemotePost};
use tocsin_store::DeliveryState;

/// What looking before sending found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reconciled {
    /// Nothing to look up, or the post is not there: send it.
    Send,
    /// The post is on the platform already: record it, send nothing.
    AlreadyThere(RemotePost),
    /// The last answer was lost and this platform cannot be asked: a person must
    /// confirm before anything is sent again.
    AskAPerson,
    /// The lookup itself failed.
    LookupFailed(ConnectorError),
}

/// Looks `post` up through `connector` if the state the delivery was claimed from
/// (`previous`) says it may be on the platform already and the platform would not
/// recognise a repeat by its idempotency key.
pub(crate) async fn reconcile(
    previous: DeliveryState,
    connector: &dyn Connector,
    post: &OutgoingPost,
) -> Reconciled {
    if connector.idempotent() {
        return Reconciled::Send;
    }
    if !matches!(previous, DeliveryState::Unknown | DeliveryState::Sending) {
        return Reconciled::Send;
    }
    match connector.lookup(post).await {
        Ok(Some(found)) => Reconciled::AlreadyThere(found),
        Ok(None) => Reconciled::Send,
        // A lost answer, or a claim whose node stopped (perhaps mid-send): where no one
        // can look, a person decides; sending again could post twice.
        Err(ConnectorError::Unsupported(_)) => Reconciled::AskAPerson,
        Err(e) => Reconciled::LookupFailed(e),
    }
}

/// Whether a failed lookup ends the delivery for a person to confirm by hand, and why:
/// the lookup failed for a reason that will not change (anything but a temporary
/// failure, a rate limit or a lost answer), or it failed on attempt `attempt` of
/// `max_attempts`. `None`: look again later.
pub(crate) fn confirm_by_hand(
    error: &ConnectorError,
    attempt: i64,
    max_attempts: u32,
) -> Option<String> {
    let why = if error.is_permanent() {
        format!("the lookup cannot succeed ({error})")
    } else if attempt >= i64::from(max_attempts) {
        format!("the lookup failed {attempt} times, last: {error}")
    } else {
        return None;
    };
    Some(format!(
        "the outcome of an earlier attempt is unknown and {why}: confirm by hand whether the post is on the platform before sending again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tocsin_connector::PostOutcome;
    use tocsin_domain::Platform;

    #[derive(Debug)]
    struct Stub {
        idempotent: bool,
        lookup: Result<Option<RemotePost>, ConnectorError>,
        lookups: AtomicUsize,
    }

    fn stub(idempotent: bool, lookup: Result<Option<RemotePost>, ConnectorError>) -> Stub {
        Stub {
            idempotent,
            lookup,
            lookups: AtomicUsize::new(0),
        }
    }

    #[async_trait::async_trait]
    impl Connector for Stub {
        fn platform(&self) -> Platform {
            Platform::Mastodon
        }
        fn idempotent(&self) -> bool {
            self.idempotent
        }
        async fn post(&self, _: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
            Err(ConnectorError::Permanent("not in these tests".into()))
        }
        async fn delete(&self, _: &RemotePost) -> Result<(), ConnectorError> {
            Ok(())
        }
        async fn lookup(&self, _: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            self.lookup.clone()
        }
        async fn healthcheck(&self) -> Result<(), ConnectorError> {
            Ok(())
        }
    }

    fn found() -> RemotePost {
        RemotePost {
            id: "109".into(),
            url: None,
            extra: None,
        }
    }

    fn post() -> OutgoingPost {
        OutgoingPost::new("tocsin-1-2", "Boil water.")
    }

    #[tokio::test]
    async fn a_first_attempt_or_a_retry_is_sent_without_looking() {
        for previous in [DeliveryState::Pending, DeliveryState::RetryWait] {
            let s = stub(false, Ok(Some(found())));
            assert_eq!(reconcile(previous, &s, &post()).await, Reconciled::Send);
            assert_eq!(s.lookups.load(Ordering::SeqCst), 0);
        }
    }

    #[tokio::test]
    async fn an_idempotent_platform_is_simply_sent_again() {
        for previous in [DeliveryState::Unknown, DeliveryState::Sending] {
            let s = stub(true, Ok(Some(found())));
            assert_eq!(reconcile(previous, &s, &post()).await, Reconciled::Send);
            assert_eq!(s.lookups.load(Ordering::SeqCst), 0);
        }
    }

    #[tokio::test]
    async fn a_post_found_after_a_lost_answer_or_a_taken_over_claim_is_not_sent_again() {
        for previous in [DeliveryState::Unknown, DeliveryState::Sending] {
            let s = stub(false, Ok(Some(found())));
            assert_eq!(
                reconcile(previous, &s, &post()).await,
                Reconciled::AlreadyThere(found())
            );
            let s = stub(false, Ok(None));
            assert_eq!(reconcile(previous, &s, &post()).await, Reconciled::Send);
        }
    }

    #[tokio::test]
    async fn a_lost_answer_on_a_platform_that_cannot_be_asked_stops_for_a_person() {
        let cannot = || Err(ConnectorError::Unsupported("email".into()));
        assert_eq!(
            reconcile(DeliveryState::Unknown, &stub(false, cannot()), &post()).await,
            Reconciled::AskAPerson
        );
        assert_eq!(
            reconcile(DeliveryState::Sending, &stub(false, cannot()), &post()).await,
            Reconciled::AskAPerson,
            "a taken-over claim is not sent again where no one can look"
        );
    }

    #[tokio::test]
    async fn a_failed_lookup_is_reported_not_sent() {
        let down = ConnectorError::Transient("HTTP 503".into());
        assert_eq!(
            reconcile(
                DeliveryState::Unknown,
                &stub(false, Err(down.clone())),
                &post()
            )
            .await,
            Reconciled::LookupFailed(down)
        );
    }

    #[test]
    fn a_lookup_that_cannot_succeed_ends_as_confirm_by_hand_with_its_reason_at_once() {
        let refused = ConnectorError::Permanent("LinkedIn HTTP 403: ACCESS_DENIED".into());
        let why = confirm_by_hand(&refused, 1, 6).expect("ends at once");
        assert!(
            why.contains("confirm by hand") && why.contains("ACCESS_DENIED"),
            "{why}"
        );
        let revoked = ConnectorError::Auth("HTTP 401".into());
        assert!(confirm_by_hand(&revoked, 1, 6).is_some());
    }

    #[test]
    fn a_lookup_that_keeps_failing_ends_as_confirm_by_hand_after_the_last_attempt() {
        let down = ConnectorError::Transient("HTTP 503".into());
        assert_eq!(confirm_by_hand(&down, 5, 6), None);
        let why = confirm_by_hand(&down, 6, 6).expect("bounded");
        assert!(
            why.contains("failed 6 times") && why.contains("503"),
            "{why}"
        );
        let lost = ConnectorError::Unknown("timed out".into());
        assert!(confirm_by_hand(&lost, 6, 6).is_some());
    }
}

//! What the suite needs of one platform: its fake server with one account on it, how
//! faults reach it (HTTP or SMTP), each rate-limit dialect the platform speaks, and what
//! its fake recorded. Each `<platform>.rs` implements [`Subject`] in a few lines.

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;
use tocsin_connector::{AccountSpec, OutgoingPost, PlatformDescriptor, RemotePost};
use tocsin_domain::Platform;
use tocsin_test_support::smtp::{SmtpFault, SmtpState};
use tocsin_test_support::{FakeState, Fault};

/// How faults reach a fake platform.
pub enum Transport<'a> {
    /// An HTTP fake: faults go to the next request whose path contains `post_route`, the
    /// request that makes a post (its Threads publish, its Bluesky `createRecord`).
    Http {
        /// The fake's recordings and faults.
        faults: &'a FakeState,
        /// A fragment of the path of the request that makes a post.
        post_route: &'static str,
    },
    /// The fake SMTP server.
    Smtp(&'a SmtpState),
}

/// A fault in the transport's own terms.
#[derive(Debug, Clone)]
pub enum Injection {
    /// For an HTTP fake, on the request that makes the post.
    Http(Fault),
    /// For the SMTP fake.
    Smtp(SmtpFault),
}

/// How long a rate limit asks Tocsin to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// This long (within two seconds: dates and epochs have whole seconds).
    About(Duration),
    /// The platform names no wait: back off (a transient error or a rate limit without a
    /// wait).
    NotSaid,
}

/// One way a platform says "slow down".
#[derive(Debug, Clone)]
pub struct Throttle {
    /// In words, for failure messages (`Retry-After in seconds`, ...).
    pub dialect: &'static str,
    /// The answer, as the platform sends it.
    pub inject: Injection,
    /// The wait the connector must report.
    pub wait: Wait,
}

impl Throttle {
    /// An HTTP answer in a platform's dialect.
    pub fn http(dialect: &'static str, fault: Fault, wait: Wait) -> Throttle {
        Throttle {
            dialect,
            inject: Injection::Http(fault),
            wait,
        }
    }
}

/// One platform's fake with one account on it.
#[async_trait]
pub trait Subject: Sized + Send + Sync + 'static {
    /// The platform; the suite takes its descriptor from `tocsin_connectors::ALL`.
    const PLATFORM: Platform;

    /// Starts the fake platform.
    async fn start() -> Self;

    /// The account's settings, pointing at the fake.
    fn settings(&self) -> Value;

    /// The account's secret.
    fn secret(&self) -> String;

    /// Parts of the secret a platform could quote alone (a webhook URL's token).
    fn secret_parts(&self) -> Vec<String> {
        Vec::new()
    }

    /// How faults reach the fake.
    fn transport(&self) -> Transport<'_>;

    /// `post` as the platform takes it: as it is, unless the platform needs more (an
    /// image, on Instagram).
    fn dress(&self, post: OutgoingPost) -> OutgoingPost {
        post
    }

    /// How many posts the platform holds, deleted ones included.
    fn posts(&self) -> usize;

    /// How many of them are not deleted (a platform that deletes must say).
    fn live(&self) -> usize {
        self.posts()
    }

    /// Every way the platform says "slow down" (at least one).
    fn throttles(&self) -> Vec<Throttle>;

    /// How the platform refuses a revoked secret (status and body), with `quoted` in its
    /// words, as some platforms quote what they refused. A plain 401 unless overridden.
    fn refusal(&self, quoted: &str) -> (u16, String) {
        (
            401,
            serde_json::json!({"error": format!("The access token {quoted} is invalid")})
                .to_string(),
        )
    }

    /// Whether the connector reads the answer to a post (a malformed one is then an
    /// unknown outcome); `false` where any 2xx means accepted (a webhook, a Teams flow).
    fn reads_answers(&self) -> bool {
        true
    }

    /// The id of a post of the right shape that the platform does not have.
    fn missing_id(&self) -> String;

    /// Grants what sending images needs beyond posting (X's `media.write` scope).
    fn grant_media(&self) {}

    /// What the platform holds of the latest post's images.
    fn images_seen(&self) -> ImagesSeen;

    /// Whether the latest post on the platform answers `parent` in its thread.
    fn replies_to(&self, parent: &RemotePost) -> bool;
}

/// What arrived of a post's images on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagesSeen {
    /// The images arrived with these descriptions, in order.
    Described(Vec<String>),
    /// This many images arrived; the platform has no field for a description.
    Undescribed(usize),
    /// The platform takes no images (or Tocsin does not send them there yet): the text
    /// went alone.
    TextAlone,
    /// The platform fetches one image from a public URL (Instagram): two images without
    /// one are refused for good before anything is sent.
    RefusedBeforeSending,
}

/// Quoted-printable text decoded (soft line breaks joined, `=XX` bytes restored).
pub fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (c, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subject's platform's descriptor, as `tocsin_connectors::ALL` holds it.
pub fn descriptor<S: Subject>() -> &'static PlatformDescriptor {
    tocsin_connectors::descriptor(S::PLATFORM).expect("every subject's platform is in ALL")
}

/// The subject's account.
pub fn spec<S: Subject>(subject: &S) -> AccountSpec {
    AccountSpec {
        id: format!("acct-{}", S::PLATFORM),
        platform: S::PLATFORM,
        name: S::PLATFORM.display_name().to_string(),
        settings: subject.settings(),
        secret: Some(SecretString::from(subject.secret())),
    }
}

/// Every text that must never appear in an error: the secret and its parts.
pub fn secrets<S: Subject>(subject: &S) -> Vec<String> {
    let mut all = vec![subject.secret()];
    all.extend(subject.secret_parts());
    all
}

/// A post of the right shape that the platform does not have.
pub fn missing_post<S: Subject>(subject: &S) -> RemotePost {
    RemotePost {
        id: subject.missing_id(),
        url: None,
        extra: None,
    }
}

/// An HTTP-date `seconds` from now (`Retry-After` in its date form).
pub fn http_date_in(seconds: u64) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(seconds))
}

/// The Unix time `seconds` from now (`x-rate-limit-reset`, `RateLimit-Reset`).
pub fn epoch_in(seconds: i64) -> String {
    (chrono::Utc::now().timestamp() + seconds).to_string()
}

/// The ISO 8601 time `seconds` from now (Mastodon's `X-RateLimit-Reset`).
pub fn iso_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// A 429 with `Retry-After` in seconds, and the body a platform sends with it.
pub fn retry_after_seconds(seconds: u64, body: &str) -> Throttle {
    Throttle::http(
        "429 with Retry-After in seconds",
        Fault::answer(429, body).with_header("retry-after", seconds.to_string()),
        Wait::About(Duration::from_secs(seconds)),
    )
}

/// A 429 with `Retry-After` as an HTTP date, and the body a platform sends with it.
pub fn retry_after_date(seconds: u64, body: &str) -> Throttle {
    Throttle::http(
        "429 with Retry-After as an HTTP date",
        Fault::answer(429, body).with_header("retry-after", http_date_in(seconds)),
        Wait::About(Duration::from_secs(seconds)),
    )
}

//! Bounded HTTP for connectors: every call ends in bounded time and memory.
//!
//! Timeouts on connect and on the whole request, a cap on how much of a response body is
//! read (a 5 MB error page is cut, not buffered), a small redirect limit, and a mapping
//! of transport failures to [`ConnectorError`]: a failure before the request left is
//! `Transient`; a timeout or reset after it may have arrived is `Unknown`; a server
//! certificate the trust refuses is `Permanent`, with its reason.
//!
//! Certificates are checked against a [`TlsTrust`]: the bundled roots and the system
//! store by default ([`HttpClient::new`]), plus extra CA files ([`HttpClient::with_trust`]).

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use std::sync::Arc;
use std::time::Duration;

use crate::egress::{EgressPolicy, PinnedResolver, Refused};
use crate::rate_limit::retry_after;
use crate::tls::{certificate_problem, TlsTrust};
use crate::ConnectorError;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, body included.
    pub request_timeout: Duration,
    /// Largest response body read; the rest is discarded.
    pub max_body_bytes: usize,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            max_body_bytes: 1024 * 1024,
            max_redirects: 3,
        }
    }
}

/// A response, with at most `max_body_bytes` of its body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, possibly cut.
    pub body: Bytes,
    /// Whether the body was longer than the cap.
    pub truncated: bool,
}

impl Reply {
    /// The body parsed as JSON, or `Unknown` if a successful answer is unreadable (the
    /// platform may have acted on the request, so this is not a plain failure).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        if self.truncated {
            return Err(ConnectorError::Unknown(format!(
                "HTTP {} answer larger than {} bytes",
                self.status.as_u16(),
                self.body.len()
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::Unknown(format!(
                "HTTP {} answer is not the expected JSON: {e}",
                self.status.as_u16()
            ))
        })
    }

    /// The same answer with `secret` replaced by `[redacted]` in an error body: for a
    /// credential the request carried where [`HttpClient::send`] does not look (a JSON
    /// body's password, a token inside a URL segment), or never sent at all (a signing
    /// key), in case the platform quotes it back. A success is returned as it is.
    pub fn redacting(mut self, secret: &str) -> Reply {
        if !self.status.is_success() && !secret.is_empty() {
            self.body = redact_credentials(self.body, &[secret.to_string()]);
        }
        self
    }

    /// A short, printable excerpt of the body for error messages, shown to every role:
    /// what the platform said and nothing else. A JSON answer gives its message field
    /// (`error_description`, `message`, `detail`, `error`, the first of `errors`) or,
    /// without one, its compact text; plain text is kept; a page (HTML, XML, anything
    /// else) is described by its type and size, never quoted, whoever served it. Cut
    /// to 200 characters, control characters replaced, credentials already redacted.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
            return printable(&platform_message(&value).unwrap_or_else(|| value.to_string()));
        }
        let kind = self
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let markup = text.trim_start().starts_with('<');
        if (kind.is_empty() || kind == "text/plain") && !markup {
            return printable(&text);
        }
        format!(
            "(a {}-byte {} answer, not shown)",
            self.body.len(),
            if kind.is_empty() {
                "markup"
            } else {
                kind.as_str()
            }
        )
    }

    /// The common meaning of a non-success status: 401/403 auth, 429 rate limited (with
    /// `Retry-After`), 408 and 5xx transient, other 4xx permanent.
    pub fn status_error(&self) -> ConnectorError {
        let what = format!("HTTP {}: {}", self.status.as_u16(), self.excerpt());
        self.status_error_saying(what)
    }

    /// As [`Reply::status_error`], with the platform's own words in `what`; a 429 waits
    /// for `Retry-After`, or else the rate-limit window's reset.
    pub fn status_error_saying(&self, what: String) -> ConnectorError {
        match self.status.as_u16() {
            401 | 403 => ConnectorError::Auth(what),
            429 => ConnectorError::RateLimited {
                retry_after: retry_after(&self.headers).or_else(|| {
                    crate::rate_limit::rate_limit_status(&self.headers).and_then(|s| s.reset_after)
                }),
                reason: what,
            },
            408 | 500..=599 => ConnectorError::Transient(what),
            _ => ConnectorError::Permanent(what),
        }
    }
}

/// The message a JSON error answer carries, in the fields platforms use for it.
fn platform_message(value: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    for key in [
        "error_description",
        "message",
        "detail",
        "description",
        "error_message",
    ] {
        if let Some(m) = value.get(key).and_then(text) {
            return Some(m);
        }
    }
    if let Some(error) = value.get("error") {
        if let Some(m) = text(error) {
            return Some(m);
        }
        if let Some(m) = platform_message(error) {
            return Some(m);
        }
    }
    value
        .get("errors")
        .and_then(|e| e.get(0))
        .and_then(|first| text(first).or_else(|| platform_message(first)))
}

/// A platform's words, cut to 200 characters with control characters replaced (so an
/// answer can never inject lines into a log).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// An HTTP client with Tocsin's limits. Cheap to clone (shares its connection pool).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    limits: HttpLimits,
    /// Where it may not send ([`HttpClient::with_egress`]); `None` sends anywhere.
    egress: Option<Arc<EgressPolicy>>,
    /// What it trusts, for connectors that open their own connections (SMTP).
    trust: TlsTrust,
}

impl HttpClient {
    /// A client with these limits, trusting the bundled roots and the system store.
    pub fn new(limits: HttpLimits) -> Result<Self, ConnectorError> {
        HttpClient::with_trust(limits, &TlsTrust::system())
    }

    /// A client with these limits, trusting the bundled roots and what `trust` adds (the
    /// system store, extra CA files).
    pub fn with_trust(limits: HttpLimits, trust: &TlsTrust) -> Result<Self, ConnectorError> {
        HttpClient::build(limits, trust, None)
    }

    /// A client that never reaches an internal address (loopback, private, link-local,
    /// metadata) except on the hosts `policy` lists: names are checked as they resolve,
    /// on the addresses then connected to; IP literals and redirects before they are
    /// followed. A redirect may not change the scheme either.
    pub fn with_egress(
        limits: HttpLimits,
        trust: &TlsTrust,
        policy: EgressPolicy,
    ) -> Result<Self, ConnectorError> {
        HttpClient::build(limits, trust, Some(Arc::new(policy)))
    }

    fn build(
        limits: HttpLimits,
        trust: &TlsTrust,
        egress: Option<Arc<EgressPolicy>>,
    ) -> Result<Self, ConnectorError> {
        let mut builder = reqwest::Client::builder();
        for root in trust.added_roots() {
            let cert = reqwest::Certificate::from_der(root.as_ref()).map_err(|e| {
                ConnectorError::Config(format!("cannot use a trusted certificate: {e}"))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let redirects = match &egress {
            None => reqwest::redirect::Policy::limited(limits.max_redirects),
            Some(policy) => {
                builder = builder.dns_resolver(Arc::new(PinnedResolver::new(policy.clone())));
                let (policy, max) = (policy.clone(), limits.max_redirects);
                reqwest::redirect::Policy::custom(move |attempt| {
                    let from = attempt.previous().last().map(|u| u.scheme().to_string());
                    if attempt.previous().len() > max {
                        return attempt.error(Refused("too many redirects".into()));
                    }
                    if from.as_deref().is_some_and(|s| s != attempt.url().scheme()) {
                        return attempt
                            .error(Refused("a redirect may not change the scheme".into()));
                    }
                    match policy.check_url(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(why) => attempt.error(Refused(why)),
                    }
                })
            }
        };
        let inner = builder
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .redirect(redirects)
            .user_agent(concat!("Tocsin/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build an HTTP client: {e}")))?;
        Ok(HttpClient {
            inner,
            limits,
            egress,
            trust: trust.clone(),
        })
    }

    /// The certificate authorities this client trusts, for connectors that open their
    /// own connections (email's SMTP), so they trust the same.
    pub fn trust(&self) -> &TlsTrust {
        &self.trust
    }

    /// A client with other limits, the same trust and the same egress policy.
    pub fn with_limits(&self, limits: HttpLimits) -> Result<Self, ConnectorError> {
        HttpClient::build(limits, &self.trust, self.egress.clone())
    }

    /// The underlying client, for building requests.
    pub fn request(&self, method: reqwest::Method, url: &str) -> RequestBuilder {
        self.inner.request(method, url)
    }

    /// Sends a request. `writes` says whether the request changes state on the platform:
    /// a timeout after sending is then `Unknown` rather than `Transient`.
    pub async fn send(
        &self,
        request: RequestBuilder,
        writes: bool,
    ) -> Result<Reply, ConnectorError> {
        let (client, built) = request.build_split();
        let request = built.map_err(|e| transport_error(&e, writes))?;
        if let Some(policy) = &self.egress {
            // Nothing was sent: refused for good, never an unknown outcome.
            policy
                .check_url(request.url())
                .map_err(ConnectorError::Permanent)?;
        }
        let credentials = credentials_of(&request);
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| transport_error(&e, writes))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = BytesMut::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.limits.max_body_bytes.saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    // Headers arrived, the body did not: for a write the platform has
                    // acted but we don't know the result.
                    if status.is_success() && writes {
                        return Err(ConnectorError::Unknown(format!(
                            "HTTP {} answer cut off: {}",
                            status.as_u16(),
                            describe(&e)
                        )));
                    }
                    truncated = true;
                    break;
                }
            }
        }
        // An error answer only ever feeds error messages (stored, shown, logged): a
        // platform that quotes the token it refused must not put it there.
        let body = if status.is_success() {
            body.freeze()
        } else {
            redact_credentials(body.freeze(), &credentials)
        };
        Ok(Reply {
            status,
            headers,
            body,
            truncated,
        })
    }
}

/// Shortest value treated as a credential when redacting (shorter ones are ids, verbs).
const MIN_CREDENTIAL: usize = 12;

/// What a request carries that a platform could quote back in an error answer: the
/// values of its credential headers (`Authorization` without its scheme, both halves of
/// Basic credentials, API keys and tokens), and the long segments of its URL's path and
/// query values (Telegram and webhook URLs carry their tokens there).
fn credentials_of(request: &reqwest::Request) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for (name, value) in request.headers() {
        let name = name.as_str();
        let sensitive = ["auth", "token", "key", "secret", "cookie", "signature"]
            .iter()
            .any(|word| name.contains(word));
        let Some(value) = value.to_str().ok().filter(|_| sensitive) else {
            continue;
        };
        out.push(value.to_string());
        if let Some((scheme, credential)) = value.split_once(' ') {
            out.push(credential.trim().to_string());
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credential.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                if let Some(decoded) = decoded {
                    out.extend(decoded.split(':').map(str::to_string));
                    out.push(decoded);
                }
            }
        }
    }
    let url = request.url();
    out.extend(url.path().split('/').map(str::to_string));
    out.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
    out.retain(|c| c.chars().count() >= MIN_CREDENTIAL);
    // Longest first, so a credential is replaced whole before any part of it.
    out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    out.dedup();
    out
}

/// `body` with every credential replaced by `[redacted]` (read as text: an error body
/// is only ever shown as text).
fn redact_credentials(body: Bytes, credentials: &[String]) -> Bytes {
    let text = String::from_utf8_lossy(&body);
    if !credentials.iter().any(|c| text.contains(c.as_str())) {
        return body;
    }
    let mut text = text.into_owned();
    for c in credentials {
        text = text.replace(c.as_str(), "[redacted]");
    }
    Bytes::from(text)
}

fn describe(e: &reqwest::Error) -> String {
    // reqwest's text can include the URL, and some platforms put tokens in URLs
    // (Telegram, Discord webhooks): callers pass this through `redact_urls`.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_urls(&text)
}

fn transport_error(e: &reqwest::Error, writes: bool) -> ConnectorError {
    // Refused by the egress policy before anything was sent (at DNS, or at a redirect).
    if let Some(why) = crate::egress::refusal_in(e) {
        return ConnectorError::Permanent(why);
    }
    let what = describe(e);
    if let Some(problem) = certificate_problem(e) {
        return ConnectorError::Permanent(problem);
    }
    if e.is_redirect() {
        ConnectorError::Permanent(format!("too many redirects: {what}"))
    } else if e.is_builder() {
        ConnectorError::Config(what)
    } else if e.is_connect() {
        ConnectorError::Transient(format!("cannot connect: {what}"))
    } else if writes {
        ConnectorError::Unknown(what)
    } else {
        ConnectorError::Transient(what)
    }
}

/// Removes anything that looks like a URL from an error text (URLs may carry tokens).
pub fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let w = word.trim_start_matches(['(', '"', '\'']);
            if w.starts_with("http://") || w.starts_with("https://") {
                "<url>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_answer_quoting_the_request_s_credentials_has_them_redacted() {
        let app = Router::new().route(
            "/{bot}/send",
            axum::routing::post(
                |headers: axum::http::HeaderMap, uri: axum::http::Uri| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        format!("refused {auth} at {uri}"),
                    )
                },
            ),
        );
        let base = serve(app).await;
        let http = HttpClient::new(HttpLimits::default()).unwrap();
        let url = format!("{base}/bot123456789:canary-in-the-path/send?key=canary-in-the-query");
        let reply = http
            .send(
                http.request(reqwest::Method::POST, &url)
                    .bearer_auth("canary-bearer-token"),
                true,
            )
            .await
            .unwrap();
        let text = reply.excerpt();
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        let basic = http
            .send(
                http.request(reqwest::Method::POST, &format!("{base}/x/send"))
                    .basic_auth("AC0123456789abcdef", Some("canary-basic-secret")),
                true,
            )
            .await
            .unwrap();
        assert!(!basic.excerpt().contains("canary"), "{}", basic.excerpt());
    }
    use axum::routing::get;
    use axum::Router;

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_huge_error_page_is_cut_at_the_cap() {
        let base = serve(Router::new().route(
            "/",
            get(|| async {
                (
                    axum::http::StatusCode::BAD_GATEWAY,
                    "x".repeat(5 * 1024 * 1024),
                )
            }),
        ))
        .await;
        let client = HttpClient::new(HttpLimits {
            max_body_bytes: 1000,
            ..HttpLimits::default()
        })
        .unwrap();
        let reply = client
            .send(client.request(reqwest::Method::GET, &base), false)
            .await
            .unwrap();
        assert_eq!(reply.body.len(), 1000);
        assert!(reply.truncated);
        assert!(matches!(reply.status_error(), ConnectorError::Transient(_)));
    }

    fn reply(content_type: &str, body: &str) -> Reply {
        let mut headers = HeaderMap::new();
        if !content_type.is_empty() {
            headers.insert(reqwest::header::CONTENT_TYPE, content_type.parse().unwrap());
        }
        Reply {
            status: StatusCode::BAD_GATEWAY,
            headers,
            body: Bytes::from(body.to_string()),
            truncated: false,
        }
    }

    #[test]
    fn an_error_excerpt_is_what_the_platform_said_and_never_a_page() {
        let page = "<html><body>Internal admin console: db=10.0.0.4 user=root</body></html>";
        for ct in ["text/html; charset=utf-8", "", "application/xml"] {
            let text = reply(ct, page).excerpt();
            assert!(
                !text.contains("admin") && text.contains("not shown"),
                "{ct}: {text}"
            );
        }
        let json = r#"{"error":"invalid_grant","error_description":"The code expired."}"#;
        assert_eq!(
            reply("application/json", json).excerpt(),
            "The code expired."
        );
        let x = r#"{"errors":[{"message":"Status is a duplicate.","code":187}]}"#;
        assert_eq!(
            reply("application/json", x).excerpt(),
            "Status is a duplicate."
        );
        assert_eq!(reply("text/plain", "Bad Gateway").excerpt(), "Bad Gateway");
    }

    fn guarded(allowed: &[&str]) -> HttpClient {
        HttpClient::with_egress(
            HttpLimits::default(),
            &TlsTrust::bundled_only(),
            EgressPolicy::new(allowed),
        )
        .unwrap()
    }

    /// A server on loopback counting what reaches it, redirecting `/to?u=URL` to URL.
    async fn counting_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route(
                "/to",
                get(
                    |axum::extract::Query(q): axum::extract::Query<
                        std::collections::HashMap<String, String>,
                    >| async move {
                        axum::response::Redirect::temporary(q.get("u").map_or("/", |u| u.as_str()))
                    },
                ),
            )
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let counted = counted.clone();
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        next.run(req).await
                    }
                },
            ));
        (serve(app).await, hits)
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_before_anything_is_sent_unless_listed() {
        use std::sync::atomic::Ordering;
        let (base, hits) = counting_server().await;
        let port = base.rsplit(':').next().unwrap().to_string();
        let strict = guarded(&[]);
        for url in [
            format!("{base}/ok"),
            format!("http://localhost:{port}/ok"),
            format!("http://[::ffff:127.0.0.1]:{port}/ok"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ] {
            let err = strict
                .send(strict.request(reqwest::Method::POST, &url), true)
                .await
                .unwrap_err();
            assert!(
                matches!(err, ConnectorError::Permanent(ref m) if m.contains("allowed_private_hosts")),
                "{url}: {err}"
            );
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the server");

        // Listed (by name, checked on the address it resolves to), it is reached.
        let listed = guarded(&["localhost"]);
        let reply = listed
            .send(
                listed.request(reqwest::Method::GET, &format!("http://localhost:{port}/ok")),
                false,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_redirect_may_not_go_to_an_internal_host_or_change_scheme() {
        let (base, _) = counting_server().await;
        let client = guarded(&["127.0.0.1"]);
        for (target, why) in [
            ("http://169.254.169.254/latest/meta-data/", "metadata"),
            ("http://10.0.0.7/admin", "private"),
            ("https://127.0.0.1/ok", "scheme"),
        ] {
            let err = client
                .send(
                    client.request(reqwest::Method::GET, &format!("{base}/to?u={target}")),
                    false,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, ConnectorError::Permanent(ref m) if m.contains(why)),
                "{target}: {err}"
            );
        }
        // A redirect within the listed host is followed.
        let reply = client
            .send(
                client.request(reqwest::Method::GET, &format!("{base}/to?u=/ok")),
                false,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_redirect_loop_is_a_permanent_error() {
        let base = serve(Router::new().route(
            "/loop",
            get(|| async { axum::response::Redirect::temporary("/loop") }),
        ))
        .await;
        let client = HttpClient::new(HttpLimits::default()).unwrap();
        let err = client
            .send(
                client.request(reqwest::Method::GET, &format!("{base}/loop")),
                true,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Permanent(ref m) if m.contains("redirect")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_endless_response_times_out_as_unknown_for_a_write() {
        let base = serve(Router::new().route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        ))
        .await;
        let client = HttpClient::new(HttpLimits {
            request_timeout: Duration::from_millis(200),
            ..HttpLimits::default()
        })
        .unwrap();
        let err = client
            .send(
                client.request(reqwest::Method::POST, &format!("{base}/slow")),
                true,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Unknown(_)), "{err}");
        assert!(
            !err.to_string().contains("127.0.0.1"),
            "no URL in errors: {err}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = HttpClient::new(HttpLimits::default()).unwrap();
        let err = client
            .send(
                client.request(reqwest::Method::POST, &format!("http://{addr}/")),
                true,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    }

    #[test]
    fn statuses_map_to_the_shared_error_kinds() {
        let reply = |code: u16| Reply {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{}"),
            truncated: false,
        };
        assert_eq!(reply(401).status_error().kind(), "auth");
        assert_eq!(reply(429).status_error().kind(), "rate_limited");
        assert_eq!(reply(503).status_error().kind(), "transient");
        assert_eq!(reply(422).status_error().kind(), "permanent");
    }
}

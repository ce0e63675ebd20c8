//! Each platform's OAuth 2 facts resolved for one account, and the requests that are
//! not the same everywhere.
//!
//! The facts (endpoints, scopes, PKCE, client authentication, how tokens are renewed and
//! whose they are) are in each platform's descriptor ([`OAuthFacts`]), checked against
//! the platform's documentation there; [`definition`] fills in an account's instance or
//! API version. The requests the standard grant does not cover are here: Facebook
//! Login's `GET` exchanges (`fb_exchange_token`, then the Page's token from
//! `/me/accounts`, which does not expire), Threads' long-lived tokens
//! (`th_exchange_token`, refreshed with `th_refresh_token`), Mastodon's registration,
//! and asking the platform whose token it is.
//!
//! Errors are read as RFC 6749 `{"error", "error_description"}`; an answer in any other
//! form is "not understood", with its HTTP status and never its body (a successful answer
//! Tocsin cannot read holds a token).

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::descriptor::{OAuthClient as ClientSource, OAuthFacts, TokenDialect};
use tocsin_connector::http::{printable, HttpClient, Reply};
use tocsin_connector::ConnectorError;
use tocsin_domain::Platform;

/// How one platform does OAuth 2, for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOAuth {
    /// The platform.
    pub platform: Platform,
    /// The consent page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The scopes Tocsin asks for.
    pub scopes: &'static [&'static str],
    /// How the platform separates scopes in the `scope` parameter.
    pub scope_separator: &'static str,
    /// Whether the flow uses PKCE (S256).
    pub pkce: bool,
    /// Whether the client authenticates with HTTP Basic (else in the body).
    pub basic_auth: bool,
    /// The platform's own steps around the code exchange.
    pub dialect: TokenDialect,
}

/// The platforms an account can be connected on through OAuth 2, with their facts.
pub fn oauth_platforms() -> impl Iterator<Item = (Platform, &'static OAuthFacts)> {
    tocsin_connectors::ALL
        .iter()
        .filter_map(|d| d.oauth.as_ref().map(|o| (d.platform, o)))
}

/// The OAuth facts of `platform`, if its accounts connect through OAuth 2.
pub fn facts(platform: Platform) -> Option<&'static OAuthFacts> {
    oauth_platforms()
        .find(|(p, _)| *p == platform)
        .map(|(_, o)| o)
}

/// The API version an account's settings name, or the platform's default.
pub fn api_version(facts: &OAuthFacts, settings: &Value) -> Option<String> {
    let v = facts.api_version?;
    Some(
        settings
            .get(v.setting)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(v.default)
            .to_string(),
    )
}

/// The OAuth facts of `platform` for one account: `instance` is its instance URL (for a
/// platform whose client is registered per instance) and `version` its API version.
/// `None` when the platform does not connect through OAuth, or needs an instance that
/// is not given.
pub fn definition(
    platform: Platform,
    instance: Option<&str>,
    version: Option<&str>,
) -> Option<PlatformOAuth> {
    let facts = facts(platform)?;
    let instance = match facts.client {
        ClientSource::PerInstance { .. } => Some(instance?.trim_end_matches('/')),
        ClientSource::Registered { .. } => None,
    };
    let default_version = facts.api_version.map(|v| v.default);
    let fill = |template: &str| {
        let mut url = template.to_string();
        if let Some(instance) = instance {
            url = url.replace("{instance}", instance);
        }
        if let Some(version) = version.or(default_version) {
            url = url.replace("{version}", version);
        }
        url
    };
    Some(PlatformOAuth {
        platform,
        authorize_url: fill(facts.authorize_url),
        token_url: fill(facts.token_url),
        scopes: facts.scopes,
        scope_separator: facts.scope_separator,
        pkce: facts.pkce,
        basic_auth: facts.basic_auth,
        dialect: facts.dialect,
    })
}

/// A client ready to talk to one platform: its id and secret, endpoints and redirect URI.
#[derive(Clone)]
pub struct ResolvedClient {
    /// The platform's facts (endpoints possibly overridden by configuration).
    pub def: PlatformOAuth,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Option<SecretString>,
    /// Tocsin's callback.
    pub redirect_uri: String,
}

impl std::fmt::Debug for ResolvedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedClient")
            .field("platform", &self.def.platform)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a token request did not give a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The platform refused with an RFC 6749 error (`invalid_grant`, ...).
    Refused {
        /// The error code.
        code: String,
        /// Its description, printable and cut.
        description: Option<String>,
        /// The HTTP status.
        status: u16,
    },
    /// The platform answered in a form Tocsin does not read (its status only).
    Unreadable {
        /// The HTTP status.
        status: u16,
        /// What was not understood (a field path, never a value).
        what: String,
    },
    /// The platform could not be reached, or answered 5xx or 429: worth trying later.
    Unreachable(String),
}

impl TokenError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Unreachable(_) => true,
            TokenError::Refused { status, .. } | TokenError::Unreadable { status, .. } => {
                *status == 429 || *status >= 500
            }
        }
    }

    /// Whether the platform refused an authorization code as invalid or expired.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Refused { code, .. } if code == "invalid_grant")
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Refused {
                code,
                description,
                status,
            } => match description {
                Some(d) => write!(f, "the platform refused (HTTP {status}, {code}: {d})"),
                None => write!(f, "the platform refused (HTTP {status}, {code})"),
            },
            TokenError::Unreadable { status, what } => write!(
                f,
                "the platform answered HTTP {status} in a form Tocsin does not understand ({what})"
            ),
            TokenError::Unreachable(why) => write!(f, "the platform could not be reached: {why}"),
        }
    }
}

/// What a token endpoint gave.
#[derive(Clone)]
pub struct Tokens {
    /// The access token.
    pub access: SecretString,
    /// The refresh token, if any.
    pub refresh: Option<SecretString>,
    /// Seconds until the access token expires, if said.
    pub expires_in: Option<u64>,
    /// Scopes granted, if said.
    pub scopes: Option<Vec<String>>,
    /// The platform's user id, where the token answer carries it (Threads).
    pub user_id: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

/// A number, or a number in a string (platforms differ).
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Scopes as a space- or comma-separated string, or an array.
fn lenient_scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => Some(
            s.split([' ', ','])
                .filter(|p| !p.is_empty())
                .map(|p| Scope::new(p.to_string()))
                .collect(),
        ),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(|p| Scope::new(p.to_string()))
                .collect(),
        ),
        _ => None,
    })
}

/// A token answer as platforms send it: `token_type` may be missing (LinkedIn, Threads),
/// `expires_in` a string, `scope` comma-separated, and Threads adds `user_id`.
#[derive(Debug, Deserialize, Serialize)]
pub struct PlatformTokenResponse {
    access_token: AccessToken,
    #[serde(skip, default = "bearer")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, rename = "scope", deserialize_with = "lenient_scopes")]
    scopes: Option<Vec<Scope>>,
    #[serde(default)]
    user_id: Option<Value>,
}

impl TokenResponse for PlatformTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

impl PlatformTokenResponse {
    fn into_tokens(self) -> Tokens {
        Tokens {
            access: SecretString::from(self.access_token.into_secret()),
            refresh: self
                .refresh_token
                .map(|r| SecretString::from(r.into_secret())),
            expires_in: self.expires_in,
            scopes: self
                .scopes
                .map(|s| s.into_iter().map(|s| s.to_string()).collect()),
            user_id: self.user_id.and_then(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        }
    }
}

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    PlatformTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn config_error(what: &str) -> TokenError {
    TokenError::Unreachable(format!("the OAuth client is misconfigured: {what}"))
}

impl ResolvedClient {
    fn oauth2(&self) -> Result<OAuthClient, TokenError> {
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(self.def.authorize_url.clone())
                    .map_err(|_| config_error("authorize URL"))?,
            )
            .set_token_uri(
                TokenUrl::new(self.def.token_url.clone()).map_err(|_| config_error("token URL"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.redirect_uri.clone())
                    .map_err(|_| config_error("redirect URI"))?,
            )
            .set_auth_type(if self.def.basic_auth {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            });
        if let Some(secret) = &self.client_secret {
            client =
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        Ok(client)
    }

    /// The consent page's URL for this `state` (and PKCE challenge, where used).
    pub fn authorize_url(
        &self,
        state: &str,
        challenge: Option<PkceCodeChallenge>,
    ) -> Result<String, TokenError> {
        let client = self.oauth2()?;
        let state = state.to_string();
        let mut request = client.authorize_url(move || CsrfToken::new(state));
        if self.def.scope_separator == " " {
            request = request.add_scopes(self.def.scopes.iter().map(|s| Scope::new(s.to_string())));
        } else {
            // oauth2 joins scopes with spaces; Meta's platforms take commas.
            request =
                request.add_extra_param("scope", self.def.scopes.join(self.def.scope_separator));
        }
        if let Some(challenge) = challenge {
            request = request.set_pkce_challenge(challenge);
        }
        Ok(request.url().0.to_string())
    }

    /// Exchanges an authorization code (with the PKCE verifier, where used).
    pub async fn exchange_code(
        &self,
        http: &HttpClient,
        code: &str,
        verifier: Option<&SecretString>,
    ) -> Result<Tokens, TokenError> {
        if self.def.dialect == TokenDialect::FacebookLogin {
            return self.facebook_exchange(http, code).await;
        }
        if self.def.dialect == TokenDialect::InstagramLongLived {
            return self.instagram_exchange(http, code).await;
        }
        let client = self.oauth2()?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_string()));
        if let Some(v) = verifier {
            request =
                request.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_string()));
        }
        let status = Arc::new(AtomicU16::new(0));
        let call = bounded(http, &status);
        let answer = request.request_async(&call).await;
        answer
            .map(PlatformTokenResponse::into_tokens)
            .map_err(|e| token_error(e, status.load(Ordering::Relaxed)))
    }

    /// Exchanges a refresh token for new tokens (standard grant: X, LinkedIn).
    pub async fn refresh(
        &self,
        http: &HttpClient,
        refresh_token: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let client = self.oauth2()?;
        let token = RefreshToken::new(refresh_token.expose_secret().to_string());
        let status = Arc::new(AtomicU16::new(0));
        let call = bounded(http, &status);
        let answer = client
            .exchange_refresh_token(&token)
            .request_async(&call)
            .await;
        answer
            .map(PlatformTokenResponse::into_tokens)
            .map_err(|e| token_error(e, status.load(Ordering::Relaxed)))
    }

    /// Facebook's code exchange is a `GET` with the client in the query.
    async fn facebook_exchange(&self, http: &HttpClient, code: &str) -> Result<Tokens, TokenError> {
        let secret = self
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default();
        let request = http
            .request(reqwest::Method::GET, &self.def.token_url)
            .query(&[
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("client_secret", secret.as_str()),
                ("code", code),
            ]);
        token_reply(http.send(request, false).await)
    }

    /// Facebook: a short-lived user token for a long-lived one (about 60 days).
    pub async fn facebook_long_lived(
        &self,
        http: &HttpClient,
        short: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let secret = self
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default();
        let request = http
            .request(reqwest::Method::GET, &self.def.token_url)
            .query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", secret.as_str()),
                ("fb_exchange_token", short.expose_secret()),
            ]);
        token_reply(http.send(request, false).await)
    }

    /// Threads: a short-lived token for a long-lived one (60 days), on the Graph host of
    /// the token endpoint.
    pub async fn threads_long_lived(
        &self,
        http: &HttpClient,
        short: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let secret = self
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default();
        let url = format!("{}/access_token", graph_root(&self.def.token_url));
        let request = http.request(reqwest::Method::GET, &url).query(&[
            ("grant_type", "th_exchange_token"),
            ("client_secret", secret.as_str()),
            ("access_token", short.expose_secret()),
        ]);
        token_reply(http.send(request, false).await)
    }

    /// Threads: refreshes a long-lived token (at least a day old, not yet expired).
    pub async fn threads_refresh(
        &self,
        http: &HttpClient,
        current: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let url = format!("{}/refresh_access_token", graph_root(&self.def.token_url));
        let request = http.request(reqwest::Method::GET, &url).query(&[
            ("grant_type", "th_refresh_token"),
            ("access_token", current.expose_secret()),
        ]);
        token_reply(http.send(request, false).await)
    }
}

impl ResolvedClient {
    fn secret_text(&self) -> String {
        self.client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .unwrap_or_default()
    }

    /// Business Login for Instagram: the code exchange is a form `POST` with the client in
    /// the body, and its answer may come wrapped in `data` (Meta's guide shows
    /// `{"data": [{"access_token", "user_id", "permissions"}]}`). The user id it gives is
    /// left out: the account's id is what `GET /me` names as `user_id`.
    async fn instagram_exchange(
        &self,
        http: &HttpClient,
        code: &str,
    ) -> Result<Tokens, TokenError> {
        let secret = self.secret_text();
        let request = http
            .request(reqwest::Method::POST, &self.def.token_url)
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", secret.as_str()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code", code),
            ]);
        let reply = http
            .send(request, false)
            .await
            .map_err(|e| TokenError::Unreachable(e.to_string()))?;
        let status = reply.status.as_u16();
        let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
        if !reply.status.is_success() {
            // Instagram's own error form: {"error_type", "code", "error_message"}.
            if let Some(kind) = body.as_ref().and_then(|b| b.get("error_type")) {
                return Err(TokenError::Refused {
                    code: kind.as_str().map_or_else(|| "error".into(), printable),
                    description: body
                        .as_ref()
                        .and_then(|b| b.get("error_message"))
                        .and_then(Value::as_str)
                        .map(printable),
                    status,
                });
            }
            return Err(graph_error(&reply));
        }
        let unreadable = || TokenError::Unreadable {
            status,
            what: "not a token answer".into(),
        };
        let body = body.ok_or_else(unreadable)?;
        let inner = match body.get("data").and_then(|d| d.get(0)) {
            Some(first) => first.clone(),
            None => body,
        };
        let permissions = inner.get("permissions").cloned();
        let mut tokens = serde_json::from_value::<PlatformTokenResponse>(inner)
            .map(PlatformTokenResponse::into_tokens)
            .map_err(|_| unreadable())?;
        tokens.user_id = None;
        if tokens.scopes.is_none() {
            tokens.scopes = match permissions {
                Some(Value::String(s)) => Some(
                    s.split([' ', ','])
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect(),
                ),
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                ),
                _ => None,
            };
        }
        Ok(tokens)
    }

    /// Instagram: a short-lived token for a long-lived one (60 days), at `api_origin`
    /// (`https://graph.instagram.com`, the account's API host).
    pub async fn instagram_long_lived(
        &self,
        http: &HttpClient,
        api_origin: &str,
        short: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let secret = self.secret_text();
        let url = format!("{api_origin}/access_token");
        let request = http.request(reqwest::Method::GET, &url).query(&[
            ("grant_type", "ig_exchange_token"),
            ("client_secret", secret.as_str()),
            ("access_token", short.expose_secret()),
        ]);
        token_reply(http.send(request, false).await)
    }

    /// Instagram: refreshes a long-lived token (at least a day old, not yet expired).
    pub async fn instagram_refresh(
        &self,
        http: &HttpClient,
        api_origin: &str,
        current: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let url = format!("{api_origin}/refresh_access_token");
        let request = http.request(reqwest::Method::GET, &url).query(&[
            ("grant_type", "ig_refresh_token"),
            ("access_token", current.expose_secret()),
        ]);
        token_reply(http.send(request, false).await)
    }
}

/// `https://graph.instagram.com` from `https://graph.instagram.com/v25.0`: the scheme and
/// host (with its port) of an API base URL.
pub fn api_origin(base: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        None => base.trim_end_matches('/').to_string(),
    }
}

/// `https://graph.threads.net` from `https://graph.threads.net/oauth/access_token`.
fn graph_root(token_url: &str) -> String {
    token_url
        .trim_end_matches('/')
        .trim_end_matches("/access_token")
        .trim_end_matches("/oauth")
        .to_string()
}

/// oauth2's HTTP client: Tocsin's bounded client (timeouts, body cap), remembering the
/// status of the answer so an unreadable one can still be told transient or not.
struct Bounded {
    http: HttpClient,
    status: Arc<AtomicU16>,
}

type BoundedFuture<'c> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, ConnectorError>> + Send + 'c>,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for Bounded {
    type Error = ConnectorError;
    type Future = BoundedFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut builder = self.http.request(parts.method, &parts.uri.to_string());
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let reply = self.http.send(builder.body(body), false).await?;
            self.status.store(reply.status.as_u16(), Ordering::Relaxed);
            let mut response = oauth2::http::Response::builder().status(reply.status.as_u16());
            for (name, value) in &reply.headers {
                response = response.header(name, value);
            }
            response
                .body(reply.body.to_vec())
                .map_err(|_| ConnectorError::Transient("unreadable answer headers".into()))
        })
    }
}

fn bounded(http: &HttpClient, status: &Arc<AtomicU16>) -> Bounded {
    Bounded {
        http: http.clone(),
        status: status.clone(),
    }
}

fn printable_opt(text: Option<&String>) -> Option<String> {
    text.map(|t| printable(t)).filter(|t| !t.is_empty())
}

fn token_error(
    e: RequestTokenError<ConnectorError, BasicErrorResponse>,
    status: u16,
) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => TokenError::Refused {
            code: match r.error() {
                BasicErrorResponseType::Extension(other) => printable(other),
                known => known.as_ref().to_string(),
            },
            description: printable_opt(r.error_description()),
            status,
        },
        RequestTokenError::Request(e) => TokenError::Unreachable(e.to_string()),
        // The body is never shown: a successful answer holds a token.
        RequestTokenError::Parse(e, _) => TokenError::Unreadable {
            status,
            what: format!("at `{}`", e.path()),
        },
        RequestTokenError::Other(_) => TokenError::Unreadable {
            status,
            what: "not JSON".into(),
        },
    }
}

/// A token answer read by hand (Facebook's and Threads' `GET` exchanges).
fn token_reply(reply: Result<Reply, ConnectorError>) -> Result<Tokens, TokenError> {
    let reply = reply.map_err(|e| TokenError::Unreachable(e.to_string()))?;
    let status = reply.status.as_u16();
    if !reply.status.is_success() {
        return Err(graph_error(&reply));
    }
    if reply.truncated {
        return Err(TokenError::Unreadable {
            status,
            what: "too large".into(),
        });
    }
    serde_json::from_slice::<PlatformTokenResponse>(&reply.body)
        .map(PlatformTokenResponse::into_tokens)
        .map_err(|_| TokenError::Unreadable {
            status,
            what: "not a token answer".into(),
        })
}

/// An error answer from a Graph API (`{"error": {"message", "type", "code"}}`), an RFC
/// 6749 one, or one not understood.
pub fn graph_error(reply: &Reply) -> TokenError {
    let status = reply.status.as_u16();
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let graph = body.as_ref().and_then(|b| b.get("error"));
    match graph {
        Some(Value::Object(o)) => TokenError::Refused {
            code: o
                .get("type")
                .and_then(Value::as_str)
                .map_or_else(|| "error".to_string(), printable),
            description: o.get("message").and_then(Value::as_str).map(printable),
            status,
        },
        Some(Value::String(code)) => TokenError::Refused {
            code: printable(code),
            description: body
                .as_ref()
                .and_then(|b| b.get("error_description"))
                .and_then(Value::as_str)
                .map(printable),
            status,
        },
        _ if status == 429 || status >= 500 => TokenError::Unreachable(format!("HTTP {status}")),
        _ => TokenError::Unreadable {
            status,
            what: "not an error Tocsin knows".into(),
        },
    }
}

/// Who a token belongs to on its platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The platform's id of the account (or Page).
    pub id: String,
    /// Its user name (or the Page's name).
    pub username: String,
}

/// A JSON `GET` with a bearer token, for identity lookups.
async fn get_json(http: &HttpClient, url: &str, token: &SecretString) -> Result<Value, TokenError> {
    let request = http
        .request(reqwest::Method::GET, url)
        .bearer_auth(token.expose_secret())
        .header(reqwest::header::ACCEPT, "application/json");
    let reply = http
        .send(request, false)
        .await
        .map_err(|e| TokenError::Unreachable(e.to_string()))?;
    if !reply.status.is_success() {
        return Err(graph_error(&reply));
    }
    serde_json::from_slice(&reply.body).map_err(|_| TokenError::Unreadable {
        status: reply.status.as_u16(),
        what: "not JSON".into(),
    })
}

fn text_at(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unreadable(what: &str) -> TokenError {
    TokenError::Unreadable {
        status: 200,
        what: what.into(),
    }
}

/// Who a token belongs to, from `GET <url>` with it: the user's id at the JSON pointer
/// `id` and name at `username` (a missing name is an empty one when `name_optional`).
pub async fn user_identity(
    http: &HttpClient,
    url: &str,
    token: &SecretString,
    id: &str,
    username: &str,
    name_optional: bool,
) -> Result<Identity, TokenError> {
    let v = get_json(http, url, token).await?;
    let name = text_at(&v, username);
    Ok(Identity {
        id: text_at(&v, id).ok_or_else(|| unreadable(&format!("nothing at {id}")))?,
        username: match name {
            Some(name) => name,
            None if name_optional => String::new(),
            None => return Err(unreadable(&format!("nothing at {username}"))),
        },
    })
}

/// Facebook: the Pages the user manages (`GET <graph>/<version>/me/accounts`), each with
/// its own token; the one with `page_id`, or `None` if the user does not manage it.
pub async fn facebook_page(
    http: &HttpClient,
    api: &str,
    version: &str,
    user_token: &SecretString,
    page_id: &str,
) -> Result<Option<(Identity, SecretString)>, TokenError> {
    let url = format!("{api}/{version}/me/accounts?fields=id,name,access_token&limit=100");
    let v = get_json(http, &url, user_token).await?;
    let pages = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| unreadable("no data"))?;
    Ok(pages.iter().find_map(|p| {
        let id = text_at(p, "/id")?;
        if id != page_id {
            return None;
        }
        let token = text_at(p, "/access_token")?;
        Some((
            Identity {
                id,
                username: text_at(p, "/name").unwrap_or_default(),
            },
            SecretString::from(token),
        ))
    }))
}

/// A client registered with a Mastodon instance.
#[derive(Clone)]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: SecretString,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &"[sealed]")
            .finish_non_exhaustive()
    }
}

/// Registers Tocsin with an instance (`POST /api/v1/apps`, Mastodon's API) for `scopes`
/// (space-separated).
pub async fn register_instance_client(
    http: &HttpClient,
    instance: &str,
    client_name: &str,
    redirect_uri: &str,
    scopes: &str,
) -> Result<RegisteredClient, TokenError> {
    let body = serde_json::json!({
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "scopes": scopes,
    });
    let request = http
        .request(reqwest::Method::POST, &format!("{instance}/api/v1/apps"))
        .json(&body);
    let reply = http
        .send(request, true)
        .await
        .map_err(|e| TokenError::Unreachable(e.to_string()))?;
    if !reply.status.is_success() {
        return Err(graph_error(&reply));
    }
    let v: Value = serde_json::from_slice(&reply.body).map_err(|_| TokenError::Unreadable {
        status: reply.status.as_u16(),
        what: "not JSON".into(),
    })?;
    Ok(RegisteredClient {
        client_id: text_at(&v, "/client_id").ok_or_else(|| unreadable("no client_id"))?,
        client_secret: SecretString::from(
            text_at(&v, "/client_secret").ok_or_else(|| unreadable("no client_secret"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(platform: Platform) -> ResolvedClient {
        ResolvedClient {
            def: definition(platform, Some("https://social.example"), None).unwrap(),
            client_id: "cid".into(),
            client_secret: Some(SecretString::from("canary-secret".to_string())),
            redirect_uri: "https://alerts.example.org/oauth/callback".into(),
        }
    }

    fn query(url: &str) -> std::collections::HashMap<String, String> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn x_asks_for_its_scopes_with_pkce_and_state() {
        let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
        let url = client(Platform::X)
            .authorize_url("state-123", Some(challenge.clone()))
            .unwrap();
        assert!(
            url.starts_with("https://x.com/i/oauth2/authorize?"),
            "{url}"
        );
        let q = query(&url);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["state"], "state-123");
        assert_eq!(
            q["redirect_uri"],
            "https://alerts.example.org/oauth/callback"
        );
        assert_eq!(
            q["scope"],
            "tweet.read tweet.write users.read media.write offline.access"
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], challenge.as_str());
        assert!(!url.contains("canary"));
    }

    #[test]
    fn meta_platforms_take_comma_separated_scopes_and_mastodon_its_instance() {
        let q = query(&client(Platform::Threads).authorize_url("s", None).unwrap());
        assert_eq!(
            q["scope"],
            "threads_basic,threads_content_publish,threads_delete,threads_read_replies"
        );
        assert!(!q.contains_key("code_challenge"));
        let url = client(Platform::Facebook).authorize_url("s", None).unwrap();
        assert!(
            url.starts_with("https://www.facebook.com/v26.0/dialog/oauth?"),
            "{url}"
        );
        assert_eq!(
            query(&url)["scope"],
            "pages_show_list,pages_manage_posts,pages_read_engagement"
        );
        let url = client(Platform::Mastodon).authorize_url("s", None).unwrap();
        assert!(
            url.starts_with("https://social.example/oauth/authorize?"),
            "{url}"
        );
        assert_eq!(
            query(&url)["scope"],
            "write:statuses read:statuses read:accounts"
        );
        assert_eq!(
            query(&client(Platform::Linkedin).authorize_url("s", None).unwrap())["scope"],
            "w_organization_social r_organization_social"
        );
        assert!(definition(Platform::Telegram, None, None).is_none());
        assert!(definition(Platform::Mastodon, None, None).is_none());
    }

    #[test]
    fn token_answers_of_every_shape_are_read() {
        let x: PlatformTokenResponse = serde_json::from_str(
            r#"{"token_type":"bearer","expires_in":7200,"access_token":"a","scope":"tweet.read tweet.write","refresh_token":"r"}"#,
        )
        .unwrap();
        let t = x.into_tokens();
        assert_eq!(t.expires_in, Some(7200));
        assert_eq!(t.scopes.unwrap(), vec!["tweet.read", "tweet.write"]);
        assert!(t.refresh.is_some());
        let threads: PlatformTokenResponse =
            serde_json::from_str(r#"{"access_token":"a","user_id":17841400000000001}"#).unwrap();
        assert_eq!(threads.into_tokens().user_id.unwrap(), "17841400000000001");
        let linkedin: PlatformTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","expires_in":"5184000","scope":"r_basicprofile,w_organization_social"}"#,
        )
        .unwrap();
        let t = linkedin.into_tokens();
        assert_eq!(t.expires_in, Some(5_184_000));
        assert_eq!(t.scopes.unwrap().len(), 2);
    }

    #[test]
    fn instagram_asks_business_login_for_its_scopes_comma_separated() {
        let url = client(Platform::Instagram)
            .authorize_url("s", None)
            .unwrap();
        assert!(
            url.starts_with("https://www.instagram.com/oauth/authorize?"),
            "{url}"
        );
        assert_eq!(
            query(&url)["scope"],
            "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_comments"
        );
        assert_eq!(
            api_origin("https://graph.instagram.com/v25.0"),
            "https://graph.instagram.com"
        );
        assert_eq!(api_origin("http://127.0.0.1:9/v25.0"), "http://127.0.0.1:9");
    }

    #[tokio::test]
    async fn instagram_s_code_becomes_a_long_lived_token_that_refreshes() {
        use tocsin_test_support::instagram;
        let fake = instagram::start().await.unwrap();
        let redirect = "https://alerts.example.org/oauth/callback";
        fake.register_client(redirect);
        let mut def = definition(Platform::Instagram, None, None).unwrap();
        def.token_url = format!("{}/oauth/access_token", fake.origin());
        let client = ResolvedClient {
            def,
            client_id: instagram::APP_ID.into(),
            client_secret: Some(SecretString::from(instagram::APP_SECRET.to_string())),
            redirect_uri: redirect.into(),
        };
        let http = HttpClient::new(tocsin_connector::http::HttpLimits::default()).unwrap();
        let url = client
            .authorize_url("state-0123456789abcdef", None)
            .unwrap();
        let code = fake.oauth().authorize(&url).unwrap().code;
        // The answer comes wrapped in `data`, with the permissions as granted.
        let short = client.exchange_code(&http, &code, None).await.unwrap();
        assert_eq!(short.scopes.as_ref().map(Vec::len), Some(3), "{short:?}");
        assert!(short.user_id.is_none(), "the account id comes from GET /me");
        let long = client
            .instagram_long_lived(&http, &fake.origin(), &short.access)
            .await
            .unwrap();
        assert_eq!(long.access.expose_secret(), fake.accepted_token());
        assert!(long.expires_in.unwrap() > 50 * 86_400);
        let renewed = client
            .instagram_refresh(&http, &fake.origin(), &long.access)
            .await
            .unwrap();
        assert_ne!(renewed.access.expose_secret(), long.access.expose_secret());
        assert_eq!(renewed.access.expose_secret(), fake.accepted_token());
        // A code used twice is refused, and no token is shown.
        let again = client.exchange_code(&http, &code, None).await.unwrap_err();
        assert!(!again.to_string().contains("canary"), "{again}");
    }

    #[test]
    fn threads_graph_root_is_the_token_host() {
        assert_eq!(
            graph_root("https://graph.threads.net/oauth/access_token"),
            "https://graph.threads.net"
        );
        assert_eq!(
            graph_root("http://127.0.0.1:9/oauth/access_token"),
            "http://127.0.0.1:9"
        );
    }
}

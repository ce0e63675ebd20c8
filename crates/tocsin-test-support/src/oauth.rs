//! A fake OAuth 2 authorisation server, mounted by the platform fakes that need one (X's
//! `POST /2/oauth2/token`; Mastodon's `POST /api/v1/apps`, `POST /oauth/token`).
//!
//! The browser's visit to the platform's consent page is simulated: the test hands the
//! authorize URL Tocsin produced to [`OAuthProvider::authorize`], which checks it as the
//! platform would (known client, registered redirect URI, `S256` code challenge, scopes)
//! and issues a code bound to all of that; the test then calls Tocsin's callback with the
//! code and state. The token endpoint checks the client (HTTP Basic or body), the code
//! (once, unexpired, same redirect URI, PKCE verifier whose SHA-256 is the challenge),
//! issues an access token (and a refresh token where the platform does) and answers
//! refreshes with rotated tokens; errors are RFC 6749 `{"error", "error_description"}`
//! with 400 or 401, or, when told, in a changed format.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// How a platform's authorisation server behaves where platforms differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// X: confidential clients authenticate with HTTP Basic; 2-hour access tokens and
    /// rotating refresh tokens (with `offline.access`).
    X,
    /// Mastodon: clients registered per instance, secret in the body or Basic; tokens that
    /// do not expire and no refresh token.
    Mastodon,
    /// Threads: client in the body, a one-hour token and the numeric `user_id`, no
    /// `token_type` or refresh token (long-lived tokens are the platform fake's own).
    Threads,
    /// Business Login for Instagram: client in the body, a one-hour token, the user id
    /// and the granted permissions wrapped in `data` (as Meta's guide shows the answer);
    /// long-lived tokens are the platform fake's own.
    Instagram,
    /// LinkedIn: client in the body, no PKCE, 60-day tokens without `token_type` and
    /// without a refresh token (those go to some partners only).
    Linkedin,
}

/// Who a code or token belongs to on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The platform's id of the account.
    pub id: String,
    /// Its user name.
    pub username: String,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct FakeClient {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scopes it may ask for (space-separated).
    pub scopes: String,
    /// `client_name`.
    pub name: String,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scopes: String,
    identity: Option<Identity>,
}

/// A code the fake issued, with what the consent page was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The code to give Tocsin's callback.
    pub code: String,
    /// The `state` from the authorize URL.
    pub state: String,
    /// The `redirect_uri` from the authorize URL.
    pub redirect_uri: String,
    /// The `scope` from the authorize URL.
    pub scope: String,
}

/// One request to the token endpoint, as received (no secret values kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCall {
    /// `grant_type`.
    pub grant_type: String,
    /// Whether the client authenticated with HTTP Basic.
    pub basic_auth: bool,
    /// The HTTP status answered.
    pub status: u16,
}

#[derive(Debug)]
struct Inner {
    flavor: Flavor,
    clients: Vec<FakeClient>,
    codes: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, Grant>,
    access_identities: HashMap<String, Identity>,
    current_access: Option<String>,
    /// The scopes granted to `current_access` (as the consent page was asked for them).
    current_scopes: Option<String>,
    lifetime_secs: Option<u64>,
    expired_codes: std::collections::HashSet<String>,
    refuse_refresh: bool,
    changed_error_format: bool,
    next: u64,
    calls: Vec<TokenCall>,
}

/// The fake authorisation server's state (shared with its platform fake's handlers).
#[derive(Debug)]
pub struct OAuthProvider {
    inner: Mutex<Inner>,
}

/// Base64url without padding of SHA-256 of `verifier`: the `S256` code challenge.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

fn query_pairs(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

impl OAuthProvider {
    /// A provider of this flavor with no clients yet.
    pub fn new(flavor: Flavor) -> OAuthProvider {
        OAuthProvider {
            inner: Mutex::new(Inner {
                flavor,
                clients: Vec::new(),
                codes: HashMap::new(),
                refresh_tokens: HashMap::new(),
                access_identities: HashMap::new(),
                current_access: None,
                current_scopes: None,
                lifetime_secs: match flavor {
                    Flavor::X => Some(7200),
                    Flavor::Threads | Flavor::Instagram => Some(3600),
                    Flavor::Linkedin => Some(5_184_000),
                    Flavor::Mastodon => None,
                },
                expired_codes: std::collections::HashSet::new(),
                refuse_refresh: false,
                changed_error_format: false,
                next: 1,
                calls: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a client (as a developer portal would).
    pub fn add_client(&self, client: FakeClient) {
        self.lock().clients.push(client);
    }

    /// Every registered client.
    pub fn clients(&self) -> Vec<FakeClient> {
        self.lock().clients.clone()
    }

    /// Registers a client from a `POST /api/v1/apps`-style request; returns it.
    pub fn register(&self, name: &str, redirect_uris: Vec<String>, scopes: &str) -> FakeClient {
        let mut inner = self.lock();
        let n = inner.next;
        inner.next += 1;
        let client = FakeClient {
            id: format!("fake-client-id-{n}"),
            secret: format!("fake-client-secret-{n}"),
            redirect_uris,
            scopes: scopes.to_string(),
            name: name.to_string(),
        };
        inner.clients.push(client.clone());
        client
    }

    /// Access tokens live this long (`None`: forever) from now on.
    pub fn set_lifetime(&self, secs: Option<u64>) {
        self.lock().lifetime_secs = secs;
    }

    /// Codes issued so far are refused from now on, as expired (`invalid_grant`).
    pub fn expire_codes(&self) {
        let mut inner = self.lock();
        let codes: Vec<String> = inner.codes.keys().cloned().collect();
        inner.expired_codes.extend(codes);
    }

    /// Refresh tokens are refused (`invalid_grant`), as after the user revoked the app.
    pub fn refuse_refresh(&self, refuse: bool) {
        self.lock().refuse_refresh = refuse;
    }

    /// Errors come in a format no OAuth client expects (as after a platform change).
    pub fn change_error_format(&self, changed: bool) {
        self.lock().changed_error_format = changed;
    }

    /// The access token issued last (the one the platform accepts).
    pub fn current_access_token(&self) -> Option<String> {
        self.lock().current_access.clone()
    }

    /// The scopes granted to the access token issued last (space-separated, as the
    /// authorize URL asked for them).
    pub fn current_scopes(&self) -> Option<String> {
        self.lock().current_scopes.clone()
    }

    /// Every token endpoint call so far.
    pub fn token_calls(&self) -> Vec<TokenCall> {
        self.lock().calls.clone()
    }

    /// The identity an access token was issued for (`None`: the platform's default account).
    pub fn identity_of(&self, token: &str) -> Option<Identity> {
        self.lock().access_identities.get(token).cloned()
    }

    /// The consent page: checks the authorize URL as the platform would and issues a code
    /// for the platform's default account.
    pub fn authorize(&self, authorize_url: &str) -> Result<Authorized, String> {
        self.authorize_as(authorize_url, None)
    }

    /// The consent page, signed in as `identity` (`None`: the default account).
    pub fn authorize_as(
        &self,
        authorize_url: &str,
        identity: Option<Identity>,
    ) -> Result<Authorized, String> {
        let q = query_pairs(authorize_url);
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let mut inner = self.lock();
        if get("response_type") != "code" {
            return Err("response_type must be code".into());
        }
        let client_id = get("client_id");
        let Some(client) = inner.clients.iter().find(|c| c.id == client_id).cloned() else {
            return Err(format!("unknown client_id `{client_id}`"));
        };
        let redirect_uri = get("redirect_uri");
        if !client.redirect_uris.contains(&redirect_uri) {
            return Err(format!("redirect_uri `{redirect_uri}` is not registered"));
        }
        let state = get("state");
        if state.len() < 16 {
            return Err("state missing or too short".into());
        }
        let challenge = q.get("code_challenge").cloned();
        match (inner.flavor, &challenge, q.get("code_challenge_method")) {
            (_, Some(_), Some(m)) if m == "S256" => {}
            (Flavor::X, _, _) => return Err("X requires a S256 code_challenge".into()),
            (
                Flavor::Mastodon | Flavor::Threads | Flavor::Instagram | Flavor::Linkedin,
                None,
                None,
            ) => {}
            _ => return Err("code_challenge_method must be S256".into()),
        }
        let scope = get("scope");
        let allowed: Vec<&str> = client.scopes.split_whitespace().collect();
        if inner.flavor == Flavor::Mastodon {
            if let Some(bad) = scope.split_whitespace().find(|s| !allowed.contains(s)) {
                return Err(format!("scope `{bad}` was not registered"));
            }
        }
        let n = inner.next;
        inner.next += 1;
        let code = format!("fake-code-{n}");
        inner.codes.insert(
            code.clone(),
            Grant {
                client_id,
                redirect_uri: redirect_uri.clone(),
                challenge,
                scopes: scope.clone(),
                identity,
            },
        );
        Ok(Authorized {
            code,
            state,
            redirect_uri,
            scope,
        })
    }

    fn client_auth(
        inner: &Inner,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<(String, bool), Box<Response>> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let (id, secret, used_basic) = match basic {
            Some(pair) => {
                let (id, secret) = pair.split_once(':').unwrap_or((pair.as_str(), ""));
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (decode(id), Some(decode(secret)), true)
            }
            None => (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned(),
                false,
            ),
        };
        let refused = || {
            Box::new(error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            ))
        };
        let Some(client) = inner.clients.iter().find(|c| c.id == id) else {
            return Err(refused());
        };
        if secret.as_deref() != Some(client.secret.as_str()) {
            return Err(refused());
        }
        if inner.flavor == Flavor::X && !used_basic {
            return Err(refused());
        }
        Ok((id, used_basic))
    }

    fn issue(inner: &mut Inner, grant: Grant) -> Value {
        let n = inner.next;
        inner.next += 1;
        let prefix = match inner.flavor {
            Flavor::X => "fake-x",
            Flavor::Mastodon => "fake-mastodon",
            Flavor::Threads => "fake-threads-short",
            Flavor::Instagram => "fake-instagram-short",
            Flavor::Linkedin => "fake-linkedin",
        };
        let access = format!("{prefix}-access-{n}-canary");
        if let Some(identity) = &grant.identity {
            inner
                .access_identities
                .insert(access.clone(), identity.clone());
        } else {
            inner.current_access = Some(access.clone());
            inner.current_scopes = Some(grant.scopes.clone());
        }
        let mut body = json!({
            "token_type": "bearer",
            "access_token": access,
            "scope": grant.scopes,
        });
        if let (Some(secs), Some(o)) = (inner.lifetime_secs, body.as_object_mut()) {
            o.insert("expires_in".into(), json!(secs));
        }
        let offline = grant
            .scopes
            .split_whitespace()
            .any(|s| s == "offline.access");
        if inner.flavor == Flavor::X && offline {
            let refresh = format!("{prefix}-refresh-{n}-canary");
            if let Some(o) = body.as_object_mut() {
                o.insert("refresh_token".into(), json!(refresh));
            }
            inner.refresh_tokens.insert(refresh, grant.clone());
        }
        if inner.flavor == Flavor::Threads {
            let user: u64 = grant
                .identity
                .as_ref()
                .map_or(crate::threads::USER_ID, |i| i.id.as_str())
                .parse()
                .unwrap_or_default();
            body = json!({"access_token": access.clone(), "user_id": user});
        }
        if inner.flavor == Flavor::Instagram {
            let user = grant
                .identity
                .as_ref()
                .map_or(crate::instagram::USER_ID, |i| i.id.as_str())
                .to_string();
            let permissions = grant.scopes.split([' ', ',']).collect::<Vec<_>>().join(",");
            body = json!({"data": [{"access_token": access.clone(), "user_id": user, "permissions": permissions}]});
        }
        if inner.flavor == Flavor::Linkedin {
            if let Some(o) = body.as_object_mut() {
                o.remove("token_type");
            }
        }
        if inner.flavor == Flavor::Mastodon {
            if let Some(o) = body.as_object_mut() {
                o.insert("token_type".into(), json!("Bearer"));
                o.insert("created_at".into(), json!(chrono::Utc::now().timestamp()));
            }
        }
        body
    }

    /// The token endpoint: `authorization_code` and `refresh_token` grants, form body.
    /// A token issued for the default account is then [`OAuthProvider::current_access_token`].
    pub fn token(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> Response {
        let mut inner = self.lock();
        let grant_type = form.get("grant_type").cloned().unwrap_or_default();
        let response = Self::token_answer(&mut inner, headers, form, &grant_type);
        let basic = headers.contains_key(header::AUTHORIZATION);
        inner.calls.push(TokenCall {
            grant_type,
            basic_auth: basic,
            status: response.status().as_u16(),
        });
        if inner.changed_error_format && !response.status().is_success() {
            let status = response.status();
            return (
                status,
                Json(json!({"errors": [{"message": "Something went wrong", "code": 99}]})),
            )
                .into_response();
        }
        response
    }

    fn token_answer(
        inner: &mut Inner,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
        grant_type: &str,
    ) -> Response {
        let (client_id, _) = match Self::client_auth(inner, headers, form) {
            Ok(c) => c,
            Err(r) => return *r,
        };
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        match grant_type {
            "authorization_code" => {
                let code = get("code");
                let Some(grant) = inner.codes.remove(&code) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The provided authorization grant is invalid, expired, revoked, or was issued to another client.",
                    );
                };
                if inner.expired_codes.contains(&code) || grant.client_id != client_id {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The provided authorization grant is invalid, expired, revoked, or was issued to another client.",
                    );
                }
                if get("redirect_uri") != grant.redirect_uri {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The redirect_uri does not match the one authorized.",
                    );
                }
                if let Some(challenge) = &grant.challenge {
                    let verifier = get("code_verifier");
                    if s256(&verifier) != *challenge {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The code_verifier does not match the code_challenge.",
                        );
                    }
                }
                Json(Self::issue(inner, grant)).into_response()
            }
            "refresh_token" if inner.flavor == Flavor::X => {
                let token = get("refresh_token");
                if inner.refuse_refresh {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "Value passed for the token was invalid.",
                    );
                }
                // Refresh tokens rotate: the old one is spent.
                let Some(grant) = inner.refresh_tokens.remove(&token) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The refresh token is invalid or was already used.",
                    );
                };
                Json(Self::issue(inner, grant)).into_response()
            }
            other => error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type `{other}` is not supported"),
            ),
        }
    }
}

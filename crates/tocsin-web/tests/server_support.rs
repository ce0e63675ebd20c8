//! Shared set-up for the server stories: a real server (`Harness`) over a store on either
//! backend with a hand-moved clock, users added through its people service, and clients
//! that speak real HTTP (reqwest with a cookie store) and real websockets
//! (tokio-tungstenite), sending the cookie and an `Origin` on the upgrade themselves.

use chrono::Duration;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::cookie::CookieStore as _;
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tocsin_app::people::{totp, Caller, PasswordCost, Role, SealingKey};
use tocsin_audit::AuditEvent;
use tocsin_store::{AuditFilter, Store};
use tocsin_web::server::harness::{Harness, HarnessOptions};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Backend, TestDb};

pub const OPERATOR: Caller<'static> = Caller::Operator("cli:test");

/// How long a test waits for something that should happen soon (deliveries, frames).
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

pub fn password_of(name: &str) -> String {
    format!("canary-pass-{name}-7f3a9c")
}

struct Enrolled {
    secret: String,
    last_step: i64,
}

/// A running server and its database. The harness is declared first so it is dropped
/// (stopped) before the database goes.
pub struct Srv {
    pub harness: Harness,
    pub db: TestDb,
    users: Mutex<HashMap<String, Enrolled>>,
}

impl Srv {
    pub async fn start(backend: Backend) -> Srv {
        Srv::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut HarnessOptions)) -> Srv {
        let db = TestDb::with_clock(backend, TestDb::epoch()).await.unwrap();
        Srv::start_on(db, adjust).await
    }

    /// As [`Srv::start_with`], over a database the test prepared (accounts it added
    /// before the server starts, to name them in the configuration).
    pub async fn start_on(db: TestDb, adjust: impl FnOnce(&mut HarnessOptions)) -> Srv {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut options = HarnessOptions::for_repository(&repo);
        options.people.password_cost = PasswordCost::TESTS_ONLY;
        adjust(&mut options);
        let key = Arc::new(SealingKey::generate());
        let harness = Harness::start(db.store.clone(), key, options)
            .await
            .unwrap();
        Srv {
            harness,
            db,
            users: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Store {
        self.harness.app.store()
    }

    pub fn advance(&self, by: Duration) {
        self.db.clock.as_ref().unwrap().advance(by);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.harness.url())
    }

    /// The server's own origin, as a browser on the panel would send it.
    pub fn origin(&self) -> String {
        self.harness.url()
    }

    /// Adds a user, then enrols them through their link as they would: their password,
    /// the second factor the link shows, and a fresh code from it.
    pub async fn add_user(&self, name: &str, role: Role) {
        let people = &self.harness.people;
        let invite = people.add_user(OPERATOR, name, role).await.unwrap();
        let start = people.begin_enrolment(invite.token.expose()).await.unwrap();
        let secret = start.totp.secret_base32.expose_secret().to_string();
        self.users.lock().unwrap().insert(
            name.to_string(),
            Enrolled {
                secret,
                last_step: i64::MIN,
            },
        );
        let code = self.fresh_code(name);
        people
            .complete_enrolment(invite.token.expose(), password_of(name).into(), &code)
            .await
            .unwrap();
    }

    /// The code for the step `steps` away from now (not recorded as used).
    pub fn code_at(&self, name: &str, steps: i64) -> String {
        let users = self.users.lock().unwrap();
        let secret = &users.get(name).unwrap().secret;
        totp::code_from_base32(secret, self.store().now() + Duration::seconds(30 * steps)).unwrap()
    }

    /// A code this user has not used yet: the earliest step the server accepts that is
    /// newer than the last one handed out (the clock moves on a step when none is left).
    pub fn fresh_code(&self, name: &str) -> String {
        let mut users = self.users.lock().unwrap();
        let user = users.get_mut(name).unwrap();
        let mut current = totp::step_at(self.store().now());
        let mut step = (user.last_step.saturating_add(1)).max(current - 1);
        if step > current + 1 {
            self.advance(Duration::seconds(30 * (step - current - 1)));
            current = totp::step_at(self.store().now());
            step = step.max(current - 1);
        }
        user.last_step = step;
        let at = self.store().now() + Duration::seconds(30 * (step - current));
        totp::code_from_base32(&user.secret, at).unwrap()
    }

    /// A client with an empty cookie jar.
    pub fn client(&self) -> Api {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Api {
            http,
            jar,
            base: self.harness.url(),
        }
    }

    /// A client signed in as `name` (with a fresh code).
    pub async fn sign_in(&self, name: &str) -> Api {
        let api = self.client();
        let code = self.fresh_code(name);
        let r = api
            .post(
                "/api/session",
                json!({"name": name, "password": password_of(name), "code": code}),
            )
            .await;
        assert_eq!(r.status, 200, "sign-in of {name}: {}", r.text);
        api
    }

    /// Password and code again for a signed-in client.
    pub async fn reauthenticate(&self, api: &Api, name: &str) -> Resp {
        let code = self.fresh_code(name);
        api.post(
            "/api/session/reauthenticate",
            json!({"password": password_of(name), "code": code}),
        )
        .await
    }

    /// Every audit entry's event, in order.
    pub async fn audit(&self) -> Vec<AuditEvent> {
        self.store()
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.entry.event)
            .collect()
    }

    /// Raw rows of text columns, read behind the store's back.
    pub async fn text_rows(&self, sql: &str) -> Vec<Vec<String>> {
        text_rows(&self.db, sql).await
    }

    /// Opens the websocket as `api`'s session, from the server's own origin.
    pub async fn ws(&self, api: &Api) -> Ws {
        self.ws_with(Some(api.cookie_header()), Some(self.origin()))
            .await
            .unwrap()
    }

    /// Opens the websocket with these headers; the refusal's status when it is refused.
    pub async fn ws_with(&self, cookie: Option<String>, origin: Option<String>) -> Result<Ws, u16> {
        let mut request = self.harness.ws_url().into_client_request().unwrap();
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(&cookie).unwrap());
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(&origin).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Polls `GET path` as `api` until `done` holds for the body (or the patience ends).
    pub async fn poll(&self, api: &Api, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let r = api.get(path).await;
            assert_eq!(r.status, 200, "GET {path}: {}", r.text);
            if done(&r.body) {
                return r.body;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("GET {path} never got there: {}", r.text);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until every delivery of message `id` is `delivered`; returns the detail.
    pub async fn delivered(&self, api: &Api, id: i64) -> Value {
        self.poll(api, &format!("/api/messages/{id}"), |m| {
            let deliveries = m["deliveries"].as_array().unwrap();
            !deliveries.is_empty() && deliveries.iter().all(|d| d["state"] == "delivered")
        })
        .await
    }

    /// The example values of a playbook, as its form shows them.
    pub async fn examples(&self, api: &Api, playbook: &str) -> serde_json::Map<String, Value> {
        let detail = api.get(&format!("/api/playbooks/{playbook}")).await.ok();
        detail["variables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| {
                let value = v["example"].as_str().or(v["default"].as_str())?;
                Some((v["name"].as_str().unwrap().to_string(), json!(value)))
            })
            .collect()
    }

    /// Creates a boil-water alert draft as `api` (with these values over the examples).
    pub async fn draft(&self, api: &Api, overrides: Value, exercise: bool) -> Value {
        let mut values = self.examples(api, "boil-water").await;
        for (k, v) in overrides.as_object().unwrap() {
            values.insert(k.clone(), v.clone());
        }
        let r = api
            .post(
                "/api/drafts",
                json!({"playbook": "boil-water", "step": "alert", "values": values, "exercise": exercise}),
            )
            .await;
        assert_eq!(r.status, 201, "create draft: {}", r.text);
        r.body
    }

    /// Creates and submits a draft; returns the submitted draft.
    pub async fn submitted(&self, api: &Api, overrides: Value, exercise: bool) -> Value {
        let d = self.draft(api, overrides, exercise).await;
        let id = d["id"].as_i64().unwrap();
        let r = api
            .post(&format!("/api/drafts/{id}/submit"), json!({}))
            .await;
        r.ok()
    }
}

/// A client of the JSON API.
pub struct Api {
    pub http: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
}

/// An answer: status, headers, the body as text and (when it is JSON) as a value.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// The body of a 2xx answer.
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.text
        );
        self.body
    }

    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the status and error code.
    pub fn refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "answer: {}",
            self.text
        );
    }

    /// All `Set-Cookie` values.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.put(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path))).await
    }

    /// A raw JSON body (for malformed or oversize requests).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// The `Cookie` header this client sends (for the websocket upgrade).
    pub fn cookie_header(&self) -> String {
        let url = reqwest::Url::parse(&self.base).unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(u16),
    /// The connection went without a close frame.
    Dropped,
}

/// A panel's websocket.
pub struct Ws {
    pub stream: Stream,
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream.send(Message::text(text)).await.unwrap();
    }

    /// The next JSON frame, or how the socket ended.
    pub async fn next(&mut self) -> Result<Value, Ended> {
        loop {
            let item = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no frame from the server in time");
            match item {
                Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(Ended::Closed(frame.map_or(1005, |f| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(Ended::Dropped),
            }
        }
    }

    /// The next JSON frame (the socket must stay open).
    pub async fn frame(&mut self) -> Value {
        match self.next().await {
            Ok(v) => v,
            Err(e) => panic!("the socket ended: {e:?}"),
        }
    }

    /// Skips frames until one satisfies `want`.
    pub async fn until(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let f = self.frame().await;
            if want(&f) {
                return f;
            }
        }
    }

    /// Skips frames until the socket ends; returns the frames seen and how it ended.
    pub async fn until_end(&mut self) -> (Vec<Value>, Ended) {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Ok(v) => seen.push(v),
                Err(e) => return (seen, e),
            }
        }
    }

    /// Sends a ping and waits for the pong (other frames are skipped).
    pub async fn ping(&mut self) {
        self.send(json!({"type": "ping"})).await;
        self.until(|f| f["type"] == "pong").await;
    }
}

/// Raw rows of text columns, read behind the store's back.
pub async fn text_rows(db: &TestDb, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Connection as _;
    fn texts<R: sqlx::Row>(rows: &[R]) -> Vec<Vec<String>>
    where
        usize: sqlx::ColumnIndex<R>,
        String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<String, _>(i).unwrap())
                    .collect()
            })
            .collect()
    }
    match db.backend {
        Backend::Sqlite => {
            let path = db.dir.path().join("tocsin.db");
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
            let out = texts(&rows);
            c.close().await.unwrap();
            out
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
            let out = texts(&rows);
            c.close().await.unwrap();
            out
        }
    }
}

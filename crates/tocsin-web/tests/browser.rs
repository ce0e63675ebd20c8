//! End-to-end browser tests of the control panel: the real server (`Harness`, sandbox
//! accounts, every playbook approved) on a loopback port, driven through chromedriver in
//! headless Chromium, two independent browsers at once (drafter and approver), asserting
//! on what a user sees (badge texts and states, warnings, the delivery grid).
//!
//! The story: a drafter signs in, finds the boil-water playbook, fills it in, sees the
//! per-platform previews, trips and clears the PHI guard, saves and submits; an approver
//! (second browser) sees it waiting, approves it and watches the delivery grid reach
//! delivered on every sandbox account, while the drafter's page turns to published live
//! (websocket, no reload); the approver retracts everywhere; a compliance user finds
//! submit, approve and retract in the audit viewer. Each step leaves a screenshot under
//! `<target>/browser-artifacts/<test>/`.
//!
//! Needs `chromium` and `chromedriver` on PATH (Debian: `apt-get install chromium
//! chromium-driver`); without them the tests fail, saying so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use fantoccini::actions::InputSource as _;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{json, Value};
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_app::people::{totp, Caller, PasswordCost, Role, SealingKey};
use tocsin_test_support::db::{Backend, TestDb};
use tocsin_web::server::harness::{Harness, HarnessOptions};

/// How long a screen may take to show something.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long the delivery grid may take to settle.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(20);

const OPERATOR: Caller<'static> = Caller::Operator("cli:browser-test");

// ---------------------------------------------------------------------------------------
// chromedriver and the browsers

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn require(program: &str) -> PathBuf {
    on_path(program).unwrap_or_else(|| {
        panic!(
            "`{program}` is not on PATH: the browser tests drive headless Chromium through \
             chromedriver. Install them (Debian/Ubuntu: `apt-get install chromium chromium-driver`)."
        )
    })
}

/// A chromedriver child process on a free loopback port, killed (with the browsers it
/// started, its process group) when dropped.
struct Chromedriver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        let chromium = require("chromium");
        let driver = require("chromedriver");
        let port = {
            let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let mut command = Command::new(&driver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so the browsers it starts go with it even on a panic.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let mut cd = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = cd.child.try_wait().unwrap() {
                panic!("chromedriver exited at start-up ({status})");
            }
            let ready = http
                .get(format!("{}/status", cd.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if let Some(r) = ready {
                let body: Value = r.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {} within {PATIENCE:?}",
                cd.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cd
    }

    /// A new headless Chromium session.
    async fn session(&self, width: u32, height: u32) -> Client {
        self.session_with(width, height, &[]).await
    }

    /// A new headless Chromium session with more command-line switches (e.g.
    /// `--force-dark-mode`, which makes `prefers-color-scheme: dark` hold).
    async fn session_with(&self, width: u32, height: u32, extra: &[&str]) -> Client {
        self.open(width, height, extra, None).await
    }

    /// A new headless Chromium session emulating a phone's viewport of `width`×`height`
    /// CSS pixels (a headless window cannot be narrower than 500 px, so the window size
    /// alone would not test a phone).
    async fn phone_session(&self, width: u32, height: u32) -> Client {
        let emulation = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true},
        });
        self.open(width.max(500), height, &[], Some(emulation))
            .await
    }

    async fn open(
        &self,
        width: u32,
        height: u32,
        extra: &[&str],
        mobile: Option<serde_json::Value>,
    ) -> Client {
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            "--lang=en-US".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), {
            let mut options = json!({
                "binary": self.chromium.to_string_lossy(),
                "args": args,
            });
            if let Some(mobile) = mobile {
                options["mobileEmulation"] = mobile;
            }
            options
        });
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"))
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The child's pid is its process group id (process_group(0) above).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// screenshots

/// `<target>/browser-artifacts/<test>/`, emptied at the start of the test.
struct Shots {
    dir: PathBuf,
    n: AtomicUsize,
}

impl Shots {
    fn new(test: &str) -> Arc<Shots> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        let target = if target.is_relative() {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(target)
        } else {
            target
        };
        let dir = target.join("browser-artifacts").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap_or(dir);
        Arc::new(Shots {
            dir,
            n: AtomicUsize::new(0),
        })
    }
}

// ---------------------------------------------------------------------------------------
// one browser

fn tid(id: &str) -> String {
    format!(r#"[data-testid="{id}"]"#)
}

/// What a user sees of one element.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// The rendered text (CSS text-transform applied), as WebDriver reads it.
    text: String,
    /// Its `data-state`, when it has one.
    state: Option<String>,
    displayed: bool,
}

/// Polls `probe` until it gives `Ok`, or panics after `within` with the last `Err`.
async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().await {
            Ok(v) => return v,
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {within:?}; last seen: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Browser {
    who: &'static str,
    client: Client,
    base: String,
    shots: Arc<Shots>,
}

impl Browser {
    fn open(who: &'static str, client: Client, base: &str, shots: &Arc<Shots>) -> Browser {
        Browser {
            who,
            client,
            base: base.to_string(),
            shots: shots.clone(),
        }
    }

    /// Saves a screenshot `<nn>-<step>.png`.
    async fn shot(&self, step: &str) {
        let n = self.shots.n.fetch_add(1, Ordering::SeqCst) + 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.dir.join(format!("{n:02}-{step}.png"));
        std::fs::write(&path, png).unwrap();
    }

    /// Scrolls the element to the top of the window, then saves a screenshot.
    async fn shot_at(&self, id: &str, step: &str) {
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); \
                 if (e) e.scrollIntoView({block: 'start'}); return !!e;",
                vec![json!(tid(id))],
            )
            .await
            .unwrap();
        self.shot(step).await;
    }

    async fn goto(&self, hash: &str) {
        self.client
            .goto(&format!("{}/{hash}", self.base))
            .await
            .unwrap();
    }

    /// The location's hash route, without `#`.
    async fn route(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.fragment().unwrap_or("").to_string()
    }

    async fn wait_route(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        eventually(&format!("{}: {what}", self.who), PATIENCE, || async {
            let r = self.route().await;
            if pred(&r) {
                Ok(r)
            } else {
                Err(format!("route {r:?}"))
            }
        })
        .await
    }

    /// The element now, if it is on the page.
    async fn get(&self, id: &str) -> Option<Element> {
        self.client.find(Locator::Css(&tid(id))).await.ok()
    }

    /// Waits for the element.
    async fn find(&self, id: &str) -> Element {
        eventually(&format!("{}: element {id}", self.who), PATIENCE, || async {
            self.get(id).await.ok_or_else(|| "absent".to_string())
        })
        .await
    }

    async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    async fn seen(&self, id: &str) -> Option<Seen> {
        let e = self.get(id).await?;
        let displayed = e.is_displayed().await.ok()?;
        Some(Seen {
            text: e.text().await.ok()?,
            state: e.attr("data-state").await.ok()?,
            displayed,
        })
    }

    /// Waits until the element is shown and `pred` holds of what is seen.
    async fn wait_seen(&self, id: &str, what: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
        eventually(&format!("{}: {id} {what}", self.who), PATIENCE, || async {
            match self.seen(id).await {
                Some(s) if s.displayed && pred(&s) => Ok(s),
                Some(s) => Err(format!("{s:?}")),
                None => Err("absent".into()),
            }
        })
        .await
    }

    /// Waits until the element is gone (or hidden).
    async fn wait_gone(&self, id: &str) {
        eventually(&format!("{}: {id} gone", self.who), PATIENCE, || async {
            match self.seen(id).await {
                Some(s) if s.displayed => Err(format!("{s:?}")),
                _ => Ok(()),
            }
        })
        .await;
    }

    async fn click(&self, id: &str) {
        let e = self.find(id).await;
        eventually(&format!("{}: {id} enabled", self.who), PATIENCE, || async {
            match e.is_enabled().await {
                Ok(true) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        e.click().await.unwrap();
    }

    /// Replaces a field's text by typing, as a user would.
    async fn type_into(&self, id: &str, text: &str) {
        let e = self.find(id).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn value(&self, id: &str) -> String {
        self.find(id)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn sign_in(&self, name: &str, secret: &str) {
        self.goto("#/signin").await;
        self.trap_page_errors().await;
        self.type_into("signin-name", name).await;
        self.type_into("signin-password", password(name).expose_secret())
            .await;
        let code = totp::code_from_base32(secret, chrono::Utc::now()).unwrap();
        self.type_into("signin-code", &code).await;
        self.click("signin-submit").await;
        let user = self.wait_seen("current-user", "", |_| true).await;
        assert_eq!(user.text, name, "{}: signed in as someone else", self.who);
    }

    /// Collects the page's uncaught errors, rejected promises and `console.error` calls
    /// from now on (the panel is one page: it holds until a reload).
    async fn trap_page_errors(&self) {
        self.client
            .execute(
                "if (!window.__tocsinErrors) { \
                   const errors = window.__tocsinErrors = []; \
                   addEventListener('error', (e) => errors.push(`error: ${e.message}`)); \
                   addEventListener('unhandledrejection', (e) => errors.push(`rejection: ${e.reason}`)); \
                   const orig = console.error; \
                   console.error = (...a) => { errors.push(`console.error: ${a.join(' ')}`); orig(...a); }; \
                 } return true;",
                vec![],
            )
            .await
            .unwrap();
    }

    async fn assert_no_page_errors(&self) {
        let errors = self
            .client
            .execute("return window.__tocsinErrors || [];", vec![])
            .await
            .unwrap();
        assert_eq!(errors, json!([]), "{}: errors in the page", self.who);
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// the server

fn password(name: &str) -> SecretString {
    format!("browser-pass-{name}-4e8d21").into()
}

/// The server, its database (dropped after it) and the users' TOTP secrets.
struct World {
    harness: Harness,
    _db: TestDb,
}

impl World {
    async fn start() -> World {
        // The real clock: the browser signs in with codes of the current time.
        let db = TestDb::new(Backend::Sqlite).await.unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut options = HarnessOptions::for_repository(&repo);
        options.people.password_cost = PasswordCost::TESTS_ONLY;
        let key = Arc::new(SealingKey::generate());
        let harness = Harness::start(db.store.clone(), key, options)
            .await
            .unwrap();
        World { harness, _db: db }
    }

    /// An open live session of the live-procedure playbook under #StvKnee, started by
    /// dana; returns its id.
    async fn live_session(&self) -> i64 {
        let mut tx = self.harness.app.store().begin().await.unwrap();
        let session = tx
            .live_sessions()
            .create(
                "dana",
                "live-procedure",
                "Knee replacement",
                "StvKnee",
                false,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        session
    }

    /// Adds a user with a second factor; returns the base32 secret.
    async fn add(&self, name: &str, role: Role) -> String {
        tocsin_app::people::enrolment::add_and_enrol(
            &self.harness.people,
            OPERATOR,
            name,
            role,
            password(name),
        )
        .await
        .unwrap()
        .expose_secret()
        .to_string()
    }
}

// ---------------------------------------------------------------------------------------
// the story

const PHI_AREA: &str = "Riverside, patient SSN 123-45-6789";
const CLEAN_AREA: &str = "Riverside and Oak Park neighbourhoods";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boil_water_from_draft_to_retraction_and_audit() {
    let started = Instant::now();
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("boil_water_story");
    let base = world.harness.url();
    let dana = world.add("dana", Role::Drafter).await;
    let alex = world.add("alex", Role::Approver).await;
    let casey = world.add("casey", Role::Compliance).await;
    let accounts = world.harness.accounts.clone();
    assert_eq!(accounts.len(), 15, "the harness's default sandbox accounts");

    let (a, b) = tokio::join!(driver.session(1280, 800), driver.session(1280, 800));
    let drafter = Browser::open("drafter", a, &base, &shots);
    let approver = Browser::open("approver", b, &base, &shots);
    let t_browsers = started.elapsed();

    // 1. The drafter signs in, finds boil-water in the picker and starts it.
    drafter.sign_in("dana", &dana).await;
    let role = drafter.wait_seen("current-role", "", |_| true).await;
    assert_eq!(role.text.to_lowercase(), "drafter");
    drafter.find("playbook-list").await;
    drafter.find("playbook-boil-water").await;
    assert!(
        drafter.count(r#"[data-testid="playbook-list"] > li"#).await > 1,
        "the picker lists every playbook before a search"
    );
    drafter.type_into("playbook-search", "boil").await;
    eventually(
        "drafter: search narrows to boil-water",
        PATIENCE,
        || async {
            let n = drafter
                .count(r#"[data-testid="playbook-list"] > li.playbook"#)
                .await;
            let boil = drafter.get("playbook-boil-water").await.is_some();
            if n == 1 && boil {
                Ok(())
            } else {
                Err(format!("{n} entries, boil-water shown: {boil}"))
            }
        },
    )
    .await;
    let status = drafter
        .wait_seen("playbook-status-boil-water", "approved", |s| {
            s.state.as_deref() == Some("approved")
        })
        .await;
    assert_eq!(status.text, "Approved");
    drafter.shot("drafter-search-boil").await;
    drafter.click("playbook-start-boil-water").await;
    drafter
        .wait_route("new boil-water draft", |r| r == "/new/boil-water")
        .await;
    drafter.find("var-area").await;
    drafter.shot("drafter-new-draft").await;

    // 2. The form starts empty, the examples shown as placeholders; fill it in.
    assert_eq!(drafter.value("var-area").await, "");
    let placeholder = drafter.find("var-area").await.attr("placeholder").await;
    assert_eq!(
        placeholder.unwrap().as_deref(),
        Some("North Side, ZIP codes 60640, 60660 and 60626")
    );
    drafter
        .wait_seen("preview-empty", "until required fields are filled", |_| {
            true
        })
        .await;
    drafter.type_into("var-area", CLEAN_AREA).await;
    let count = drafter.wait_seen("var-count-area", "", |_| true).await;
    assert_eq!(count.text, format!("{} / 120 characters", CLEAN_AREA.len()));
    drafter
        .find("var-cause")
        .await
        .select_by_value("a water main break")
        .await
        .unwrap();
    set_datetime(&drafter, "var-issued_at", "2026-07-14T09:30").await;
    assert_eq!(drafter.value("var-issued_at").await, "2026-07-14T09:30");
    drafter
        .type_into("var-info_url", "https://health.example.gov/water")
        .await;
    drafter.type_into("var-hotline", "+13125550143").await;
    drafter
        .wait_seen("preview-status", "up to date", |s| {
            s.text == "Preview up to date."
        })
        .await;
    let headline = drafter.wait_seen("preview-headline", "", |_| true).await;
    assert_eq!(
        headline.text,
        format!("Headline: Boil-water advisory for {CLEAN_AREA}")
    );
    let cards = preview_cards(&drafter).await;
    for t in ["mastodon", "x", "bluesky", "sms"] {
        assert!(
            cards.iter().any(|(target, _, _)| target == t),
            "a preview card for {t}: {cards:?}"
        );
    }
    // The step's WEA texts have cards of their own, counted in septets.
    for t in ["wea_en_short", "wea_en_long", "wea_es_short", "wea_es_long"] {
        assert!(
            cards
                .iter()
                .any(|(target, c, _)| target == t && c.contains("septets")),
            "a preview card for {t}: {cards:?}"
        );
    }
    for (target, counter, text) in &cards {
        assert!(!counter.contains("(over)"), "{target}: {counter}");
        // A short WEA text says "in this area": WEA is sent to the area already.
        assert!(
            text.contains("Riverside") || target.ends_with("_short"),
            "{target}'s text names the area: {text}"
        );
        if counter == "no length limit" {
            // A variant no platform limit applies to (the HTML e-mail).
            continue;
        }
        let (used, limit) = counter_numbers(counter)
            .unwrap_or_else(|| panic!("{target}: counter {counter:?} is not \"n / limit unit\""));
        assert!(used > 0, "{target}: {counter}");
        if let Some(limit) = limit {
            assert!(used <= limit, "{target} over its limit: {counter}");
        }
    }
    assert!(
        cards.iter().filter(|(_, c, _)| c.contains(" / ")).count() >= 4,
        "most cards count against a limit: {cards:?}"
    );
    let x = drafter.wait_seen("preview-count-x", "", |_| true).await;
    assert!(x.text.contains("/ 280"), "x counts against 280: {}", x.text);
    assert!(drafter.get("phi-warning").await.is_none());
    // Cards shaped like posts: who it appears as, hashtags and links marked, and the
    // HTML email rendered in a frame that may run nothing.
    let x_card = drafter.find("preview-x").await.text().await.unwrap();
    assert!(x_card.contains("As "), "{x_card}");
    assert!(
        drafter
            .count(r#"[data-testid="preview-x"] .post-hashtag"#)
            .await
            > 0
    );
    let frame = drafter.find("preview-frame-email_html").await;
    assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
    let srcdoc = frame.attr("srcdoc").await.unwrap().unwrap_or_default();
    assert!(srcdoc.contains("default-src 'none'"), "{srcdoc}");
    drafter.shot_at("preview-area", "drafter-previews").await;

    // 3. A Social Security number in the free-text area trips the PHI guard; taking it
    //    out clears the warning.
    drafter.type_into("var-area", PHI_AREA).await;
    let phi = drafter
        .wait_seen("phi-warning", "appears", |s| {
            s.text.contains("Social Security number in Affected area")
        })
        .await;
    assert!(
        phi.text
            .contains("Possible protected health information: approval is blocked"),
        "{}",
        phi.text
    );
    // Marked at the field it came from, in the summary at the top, and in the text.
    drafter
        .wait_seen("var-phi-area", "at the field", |s| {
            s.text.contains("Social Security number")
        })
        .await;
    drafter
        .wait_seen("form-summary", "in the summary", |s| {
            s.text.contains("Affected area") && s.text.contains("Social Security number")
        })
        .await;
    assert!(
        drafter
            .count(r#"[data-testid="preview-area"] mark.phi-mark"#)
            .await
            > 0,
        "the number is marked in the post's text"
    );
    let marked = drafter
        .client
        .find(fantoccini::Locator::Css(
            r#"[data-testid="preview-area"] mark.phi-mark"#,
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(marked.contains("123-45-6789"), "{marked}");
    let bad = drafter
        .count(r#"[data-testid="preview-area"] article.preview-card.bad"#)
        .await;
    assert!(bad > 0, "cards carrying the SSN are marked");
    drafter.shot_at("preview-area", "drafter-phi-warning").await;
    drafter.type_into("var-area", CLEAN_AREA).await;
    drafter.wait_gone("phi-warning").await;
    drafter.wait_gone("var-phi-area").await;
    drafter.wait_gone("form-summary").await;
    drafter
        .wait_seen("preview-status", "up to date", |s| {
            s.text == "Preview up to date."
        })
        .await;
    assert_eq!(
        drafter
            .count(r#"[data-testid="preview-area"] article.preview-card.bad"#)
            .await,
        0
    );
    drafter.shot_at("preview-area", "drafter-phi-cleared").await;

    // The approver signs in meanwhile (second browser) and waits on the Alerts home.
    approver.sign_in("alex", &alex).await;
    let nothing = approver
        .wait_seen("drafts-submitted-list", "empty", |_| true)
        .await;
    assert_eq!(nothing.text, "Nothing is waiting for approval.");
    mark_page(&approver).await;
    approver.shot("approver-home-empty").await;

    // 4. Save, then submit: the badge says it awaits approval; no approve button for the
    //    drafter (two-person rule).
    drafter.click("save-draft-button").await;
    let route = drafter
        .wait_route("saved draft", |r| r.starts_with("/drafts/"))
        .await;
    let draft_id = route.trim_start_matches("/drafts/").to_string();
    let state = drafter
        .wait_seen("draft-state", "draft", |s| {
            s.state.as_deref() == Some("draft")
        })
        .await;
    assert_eq!(state.text, "Draft");
    assert_eq!(drafter.value("var-area").await, CLEAN_AREA);
    drafter.click("submit-button").await;
    let state = drafter
        .wait_seen("draft-state", "submitted", |s| {
            s.state.as_deref() == Some("submitted")
        })
        .await;
    assert_eq!(state.text, "Awaiting approval");
    let submit = drafter
        .wait_seen("submit-button", "reads submitted", |s| {
            s.text == "Submitted for approval"
        })
        .await;
    assert!(submit.displayed);
    assert!(!drafter
        .find("submit-button")
        .await
        .is_enabled()
        .await
        .unwrap());
    assert_eq!(drafter.count(&tid("approve-button")).await, 0);
    assert_eq!(drafter.count(&tid("review-panel")).await, 0);
    assert_eq!(
        drafter
            .wait_seen("draft-created-by", "", |_| true)
            .await
            .text,
        "dana"
    );
    drafter.shot("drafter-submitted").await;
    mark_page(&drafter).await;

    // 5. The submitted draft shows up on the approver's home by itself (websocket), who
    //    opens it and approves.
    let item = format!("draft-item-{draft_id}");
    let waiting = approver
        .wait_seen(&item, "awaiting approval", |_| true)
        .await;
    assert_not_reloaded(&approver).await;
    assert!(
        waiting
            .text
            .contains("Boil-water advisory · Initial advisory")
            && waiting.text.contains("by dana"),
        "{}",
        waiting.text
    );
    assert!(
        waiting.text.contains("Awaiting approval"),
        "{}",
        waiting.text
    );
    assert_eq!(
        approver
            .count(&format!(
                r#"[data-testid="drafts-submitted-list"] [data-testid="{item}"]"#
            ))
            .await,
        1,
        "listed under Awaiting approval"
    );
    approver.shot("approver-home-waiting").await;
    approver
        .client
        .find(Locator::Css(&format!("{} a", tid(&item))))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    approver
        .wait_route("the draft", |r| r == format!("/drafts/{draft_id}"))
        .await;
    let state = approver
        .wait_seen("draft-state", "submitted", |s| {
            s.state.as_deref() == Some("submitted")
        })
        .await;
    assert_eq!(state.text, "Awaiting approval");
    // Times in words on the playbook's clock, not as typed.
    let starts = approver
        .wait_seen("draft-value-issued_at", "", |_| true)
        .await;
    assert!(
        starts.text.contains("America/Chicago") && !starts.text.contains("2026-07-14T"),
        "{}",
        starts.text
    );
    let area = approver.wait_seen("draft-value-area", "", |_| true).await;
    assert_eq!(area.text, CLEAN_AREA);
    assert_eq!(approver.count(&tid("self-approval-note")).await, 0);
    approver.find("approve-button").await;
    approver.shot("approver-review").await;
    approver.click("approve-button").await;

    // 6. The delivery grid reaches delivered on every account.
    let route = approver
        .wait_route("the delivery grid", |r| r.starts_with("/messages/"))
        .await;
    let message_id = route.trim_start_matches("/messages/").to_string();
    let t_approved = Instant::now();
    wait_grid(&approver, &accounts, "delivered", |s| s == "delivered").await;
    let t_delivery = t_approved.elapsed();
    for id in &accounts {
        let badge = approver
            .client
            .find(Locator::Css(&format!(
                r#"{} [data-testid="delivery-state"]"#,
                tid(&format!("delivery-{id}"))
            )))
            .await
            .unwrap();
        assert_eq!(badge.text().await.unwrap(), "Delivered");
    }
    let total = approver.wait_seen("total-delivered", "", |_| true).await;
    assert_eq!(total.text, "15 Delivered");
    approver.shot("approver-delivered").await;
    // The message page shows what each platform got, with its count.
    let sms = approver
        .wait_seen("sent-text-sms", "the SMS text", |_| true)
        .await;
    assert!(sms.text.contains("HEALTH DEPT"), "{}", sms.text);
    assert!(sms.text.contains("SMS segments"), "{}", sms.text);
    assert_eq!(
        approver
            .count("[data-testid=sent-texts] [data-testid^=sent-text-body]")
            .await,
        accounts.len()
    );

    // 7. Meanwhile the drafter's page turned to published by itself.
    let state = drafter
        .wait_seen("draft-state", "published (live)", |s| {
            s.state.as_deref() == Some("published")
        })
        .await;
    assert_eq!(state.text, "Published");
    let link = drafter.find("message-link").await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(format!("#/messages/{message_id}").as_str())
    );
    assert_not_reloaded(&drafter).await;
    assert_eq!(drafter.count(&tid("submit-button")).await, 0);
    let live = drafter
        .wait_seen("connection-indicator", "", |_| true)
        .await;
    assert_eq!(live.state.as_deref(), Some("open"));
    drafter.shot("drafter-published-live").await;

    // The next boil-water draft starts from this message's values, and says so.
    drafter.goto("#/new/boil-water").await;
    drafter
        .wait_seen("draft-start-note", "the starting point named", |s| {
            s.text.contains("the last message from this playbook")
        })
        .await;
    assert_eq!(drafter.value("var-area").await, CLEAN_AREA);
    drafter.shot("drafter-next-draft-from-last-message").await;

    // 8. The approver retracts everywhere (delete); the retraction's grid settles.
    approver.click("retract-button").await;
    approver
        .wait_seen("retract-dialog", "open", |s| s.text.contains("Retract"))
        .await;
    // Before confirming, the dialog names the accounts that cannot delete (email, SMS,
    // Teams, Instagram): they get the withdrawal notice instead.
    let noticed = approver
        .wait_seen("retract-notice-accounts", "", |_| true)
        .await;
    assert!(
        noticed.text.contains("4 of them cannot delete"),
        "{}",
        noticed.text
    );
    // And lists every account with what will happen to it.
    let plan = |action: &'static str| {
        let approver = &approver;
        async move {
            approver
                .client
                .find_all(Locator::Css(&format!(
                    "[data-testid=retract-plan] tr[data-action={action}]"
                )))
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(plan("notice").await, 4, "{}", noticed.text);
    assert_eq!(plan("delete").await, accounts.len() - 4);
    let sms_at = tocsin_connectors::ALL
        .iter()
        .position(|d| d.platform == tocsin_domain::Platform::Sms)
        .unwrap();
    let sms_row = approver
        .find(&format!("retract-plan-{}", accounts[sms_at]))
        .await
        .text()
        .await
        .unwrap();
    assert!(sms_row.contains("withdrawal notice"), "{sms_row}");
    approver
        .type_into(
            "retract-reason",
            "Sent to the wrong area in an exercise mix-up",
        )
        .await;
    approver.shot("approver-retract-dialog").await;
    approver.click("retract-confirm").await;
    approver
        .wait_route("the retraction's grid", |r| {
            r.starts_with("/messages/") && r != format!("/messages/{message_id}")
        })
        .await;
    approver.wait_gone("retract-dialog").await;
    let t_retract = Instant::now();
    let settled = wait_grid(&approver, &accounts, "settled", |s| {
        !["pending", "queued", "sending", "retrying", "retry_wait"].contains(&s)
    })
    .await;
    let t_retraction = t_retract.elapsed();
    assert!(
        settled.iter().all(|(_, s)| s == "delivered"),
        "every post deleted or noticed: {settled:?}"
    );
    let head = approver
        .find("target-message-link")
        .await
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        head.as_deref(),
        Some(format!("#/messages/{message_id}").as_str())
    );
    assert!(
        approver
            .client
            .find(Locator::Css(".meta"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("RETRACTION"),
        "the retraction is labelled"
    );
    assert_eq!(approver.count(&tid("retract-button")).await, 0);
    let title = approver.wait_seen("message-title", "", |_| true).await;
    assert_eq!(
        title.text,
        format!("Retraction: deleting the posts of message {message_id}")
    );
    // Done deletions are labelled so and link to no (deleted) post; the four notices
    // (email, SMS, Teams, Instagram) are labelled as notices, never as deletions.
    assert_eq!(
        approver.count(&tid("delivery-post-deleted")).await,
        accounts.len() - 4
    );
    assert_eq!(approver.count(&tid("delivery-notice")).await, 4);
    approver.shot("approver-retraction-settled").await;
    // The original now says it was retracted.
    approver.click("target-message-link").await;
    approver
        .wait_route("the original", |r| r == format!("/messages/{message_id}"))
        .await;
    let note = approver.wait_seen("retracted-note", "", |_| true).await;
    assert!(note.text.starts_with("Retracted at "), "{}", note.text);
    wait_grid(&approver, &accounts, "retracted", |s| {
        s == "retracted" || s == "delivered"
    })
    .await;
    let total = approver.wait_seen("total-retracted", "", |_| true).await;
    assert_eq!(total.text, "11 Retracted");
    let kept = approver.wait_seen("total-delivered", "", |_| true).await;
    assert_eq!(
        kept.text, "4 Delivered",
        "email, SMS, Teams and Instagram cannot delete"
    );
    assert_eq!(approver.count(&tid("retract-button")).await, 0);
    assert_eq!(
        approver.count(&tid("delivery-post-deleted")).await,
        accounts.len() - 4,
        "the deleted posts are gone"
    );
    approver.shot("approver-original-retracted").await;

    // 8b. "View post" on a row still standing (email, SMS or Teams) opens the sandbox
    // post's own page: what that platform would have got.
    let href = approver
        .find("delivery-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(href.starts_with("/sandbox/"), "{href}");
    approver
        .client
        .goto(&format!("{base}{href}"))
        .await
        .unwrap();
    approver
        .wait_route("the sandbox post", |r| r.starts_with("/sandbox/"))
        .await;
    let text = approver
        .wait_seen("sandbox-post-text", "the post's text", |s| {
            !s.text.is_empty()
        })
        .await;
    assert!(text.text.to_lowercase().contains("boil"), "{text:?}");
    let back = approver.find("sandbox-message-link").await;
    assert_eq!(
        back.attr("href").await.unwrap().as_deref(),
        Some(format!("#/messages/{message_id}").as_str())
    );
    approver.shot("sandbox-post-page").await;

    // 9. Compliance (same browser, after signing out) reads the audit log.
    approver.click("sign-out").await;
    let msg = approver.wait_seen("signin-message", "", |_| true).await;
    assert_eq!(msg.text, "You signed out.");
    approver.sign_in("casey", &casey).await;
    approver.click("nav-audit").await;
    approver.wait_route("audit", |r| r == "/audit").await;
    approver.find("audit-table").await;
    // Its rows come from a read after the table is drawn.
    approver.find("audit-row").await;
    // Newest first by default.
    let seqs: Vec<u64> = serde_json::from_value(
        approver
            .client
            .execute(
                "return [...document.querySelectorAll('[data-testid=audit-row]')].map((r) => Number(r.dataset.seq));",
                vec![],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        seqs.len() > 1 && seqs.windows(2).all(|w| w[0] > w[1]),
        "{seqs:?}"
    );
    // The filters offer the actors and actions that exist.
    eventually("the filter choices", PATIENCE, || async {
        let actors = approver
            .count("[data-testid=audit-actors] option[value=alex]")
            .await;
        let actions = approver
            .count("[data-testid=audit-actions] option[value='draft.approve']")
            .await;
        if actors == 1 && actions == 1 {
            Ok(())
        } else {
            Err(format!("actors {actors}, actions {actions}"))
        }
    })
    .await;
    for (action, actor) in [
        ("draft.submit", "dana"),
        ("draft.approve", "alex"),
        ("message.retract", "alex"),
    ] {
        approver.type_into("audit-filter-action", action).await;
        approver.click("audit-apply").await;
        let rows = eventually(&format!("audit rows for {action}"), PATIENCE, || async {
            let rows = audit_rows(&approver).await;
            if !rows.is_empty() && rows.iter().all(|r| r.action == action) {
                Ok(rows)
            } else {
                Err(format!("{rows:?}"))
            }
        })
        .await;
        assert!(
            rows.iter().any(|r| r.actor == actor
                && r.subjects.split_whitespace().any(|t| {
                    t == format!("draft={draft_id}") || t == format!("message={message_id}")
                })),
            "{action} by {actor} naming the draft or message: {rows:?}"
        );
        approver
            .shot(&format!("compliance-audit-{}", action.replace('.', "-")))
            .await;
    }

    // The message's whole story on one page, from its page's link.
    approver.goto(&format!("#/messages/{message_id}")).await;
    approver.click("story-link").await;
    approver
        .wait_route("the story", |r| {
            r == format!("/messages/{message_id}/story")
        })
        .await;
    approver.find("story-table").await;
    for action in [
        "draft.submit",
        "draft.approve",
        "delivery.result",
        "message.retract",
    ] {
        let n = approver
            .count(&format!("[data-testid=story-row][data-action='{action}']"))
            .await;
        assert!(n > 0, "{action} is not in the story");
    }
    approver.shot("compliance-message-story").await;

    drafter.assert_no_page_errors().await;
    approver.assert_no_page_errors().await;
    let total = started.elapsed();
    drafter.close().await;
    approver.close().await;
    drop(driver);
    world.harness.stop().await.unwrap();
    println!(
        "browsers ready in {t_browsers:.1?}; delivered to 15 accounts in {t_delivery:.1?}; \
         retraction settled in {t_retraction:.1?}; story in {total:.1?}"
    );
    println!("screenshots: {}", shots.dir.display());
}

/// A tablet-sized window: sign-in, the picker and the composer's previews fit without
/// sideways scrolling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tablet_composer_fits_the_screen() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("tablet_composer");
    let base = world.harness.url();
    let dana = world.add("dana", Role::Drafter).await;
    let tablet = Browser::open("tablet", driver.session(768, 1024).await, &base, &shots);

    tablet.goto("#/signin").await;
    tablet.find("signin-name").await;
    assert_no_sideways_scroll(&tablet, "sign-in").await;
    tablet.shot("tablet-signin").await;
    tablet.sign_in("dana", &dana).await;
    tablet.find("playbook-boil-water").await;
    assert_no_sideways_scroll(&tablet, "alerts home").await;
    tablet.shot("tablet-home").await;
    tablet.click("playbook-start-boil-water").await;
    tablet.find("var-area").await;
    tablet.type_into("var-area", CLEAN_AREA).await;
    tablet
        .find("var-cause")
        .await
        .select_by_value("a loss of water pressure")
        .await
        .unwrap();
    // "Now" and "In 1 hour" fill the date-time on the playbook's clock, an hour apart.
    let value_of = |id: &'static str| {
        let tablet = &tablet;
        async move {
            tablet
                .find(id)
                .await
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    tablet.click("var-now-issued_at").await;
    let now = value_of("var-issued_at").await;
    tablet.click("var-in-hour-issued_at").await;
    let later = value_of("var-issued_at").await;
    let parse = |v: &str| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M");
    let (now, later) = (parse(&now).unwrap(), parse(&later).unwrap());
    let apart = (later - now).num_minutes();
    assert!((60..=61).contains(&apart), "{now} then {later}");
    // The boil-water playbook's zone is America/Chicago, whatever the browser's.
    let chicago = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Chicago)
        .naive_local();
    let off = (chicago - now).num_minutes();
    assert!(
        (0..=1).contains(&off),
        "now was {now}; Chicago is at {chicago}"
    );
    set_datetime(&tablet, "var-issued_at", "2026-07-14T09:30").await;
    tablet
        .type_into("var-info_url", "https://health.example.gov/water")
        .await;
    tablet.type_into("var-hotline", "+13125550143").await;
    tablet
        .wait_seen("preview-status", "up to date", |s| {
            s.text == "Preview up to date."
        })
        .await;
    let cards = preview_cards(&tablet).await;
    assert!(cards.len() >= 4, "{cards:?}");
    assert_no_sideways_scroll(&tablet, "composer").await;
    // Every card is within the window's width.
    let widest = tablet
        .client
        .execute(
            "return Math.max(...[...document.querySelectorAll('article.preview-card')]\
             .map((e) => e.getBoundingClientRect().right)) <= document.documentElement.clientWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        widest,
        json!(true),
        "a preview card sticks out of the window"
    );
    tablet.shot_at("preview-area", "tablet-composer").await;
    tablet.assert_no_page_errors().await;
    tablet.close().await;
    drop(driver);
    world.harness.stop().await.unwrap();
    println!("screenshots: {}", shots.dir.display());
}

// ---------------------------------------------------------------------------------------
// helpers over the panel

/// Marks the page: finding the mark later shows the page was never reloaded.
async fn mark_page(b: &Browser) {
    b.client
        .execute("window.__tocsinNoReload = true; return true;", vec![])
        .await
        .unwrap();
}

async fn assert_not_reloaded(b: &Browser) {
    let marked = b
        .client
        .execute("return window.__tocsinNoReload === true;", vec![])
        .await
        .unwrap();
    assert_eq!(marked, json!(true), "{}: the page was reloaded", b.who);
}

/// A `datetime-local` input takes keystrokes per locale-dependent segment, not the
/// `YYYY-MM-DDTHH:MM` its value is: set the value the way the picker does and fire the
/// events the panel listens to.
async fn set_datetime(b: &Browser, id: &str, value: &str) {
    let e = b.find(id).await;
    b.client
        .execute(
            "const [e, v] = arguments; e.focus(); e.value = v; \
             e.dispatchEvent(new Event('input', {bubbles: true})); \
             e.dispatchEvent(new Event('change', {bubbles: true})); return e.value;",
            vec![serde_json::to_value(&e).unwrap(), json!(value)],
        )
        .await
        .unwrap();
}

/// (target, counter text, post text) of every preview card, as seen.
async fn preview_cards(b: &Browser) -> Vec<(String, String, String)> {
    let cards = eventually("preview cards", PATIENCE, || async {
        let cards = b
            .client
            .find_all(Locator::Css(
                r#"[data-testid="preview-area"] article.preview-card"#,
            ))
            .await
            .map_err(|e| e.to_string())?;
        if cards.is_empty() {
            return Err("no card".into());
        }
        let mut out = Vec::new();
        for c in cards {
            let target = c
                .attr("data-target")
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            let counter = c
                .find(Locator::Css(&tid(&format!("preview-count-{target}"))))
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            // The text as written (the HTML email's source sits folded under its frame).
            let text = c
                .find(Locator::Css(&tid(&format!("preview-text-{target}"))))
                .await
                .map_err(|e| e.to_string())?
                .prop("textContent")
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            out.push((target, counter, text));
        }
        Ok(out)
    })
    .await;
    assert!(cards.len() >= 4, "a card per platform: {cards:?}");
    cards
}

/// "123 / 280 characters" → (123, Some(280)); "123 characters" → (123, None).
fn counter_numbers(counter: &str) -> Option<(usize, Option<usize>)> {
    let mut words = counter.split_whitespace();
    let used = words.next()?.parse().ok()?;
    let limit = match words.next() {
        Some("/") => Some(words.next()?.parse().ok()?),
        Some(_) => None,
        None => return None,
    };
    Some((used, limit))
}

/// Waits until every account's row is in a state `done` accepts; returns (account, state).
async fn wait_grid(
    b: &Browser,
    accounts: &[i64],
    what: &str,
    done: impl Fn(&str) -> bool,
) -> Vec<(i64, String)> {
    b.find("delivery-grid").await;
    eventually(
        &format!("{}: delivery grid {what}", b.who),
        DELIVERY_DEADLINE,
        || async {
            let rows = b
                .client
                .execute(
                    "return [...document.querySelectorAll('[data-testid=\"delivery-grid\"] tbody tr')]\
                     .map((tr) => [tr.dataset.testid, tr.dataset.state, \
                     (tr.querySelector('[data-testid=\"delivery-state\"]') || {}).dataset?.state]);",
                    vec![],
                )
                .await
                .map_err(|e| e.to_string())?;
            let rows: Vec<(String, String, Option<String>)> =
                serde_json::from_value(rows).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for id in accounts {
                let row = rows
                    .iter()
                    .find(|(t, _, _)| *t == format!("delivery-{id}"))
                    .ok_or_else(|| format!("no row for account {id}: {rows:?}"))?;
                if row.2.as_deref() != Some(row.1.as_str()) || !done(&row.1) {
                    return Err(format!("{rows:?}"));
                }
                out.push((*id, row.1.clone()));
            }
            if rows.len() != accounts.len() {
                return Err(format!("{} rows for {} accounts", rows.len(), accounts.len()));
            }
            Ok(out)
        },
    )
    .await
}

#[derive(Debug)]
struct AuditRow {
    actor: String,
    action: String,
    subjects: String,
}

async fn audit_rows(b: &Browser) -> Vec<AuditRow> {
    let Ok(rows) = b
        .client
        .find_all(Locator::Css(r#"[data-testid="audit-row"]"#))
        .await
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in rows {
        let Ok(cells) = r.find_all(Locator::Css("td")).await else {
            return Vec::new();
        };
        let mut texts = Vec::new();
        for c in cells {
            match c.text().await {
                Ok(t) => texts.push(t),
                Err(_) => return Vec::new(),
            }
        }
        if texts.len() < 6 {
            return Vec::new();
        }
        out.push(AuditRow {
            actor: texts[2].clone(),
            action: texts[3].clone(),
            subjects: texts[4].clone(),
        });
    }
    out
}

async fn assert_no_sideways_scroll(b: &Browser, screen: &str) {
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        fits,
        json!(true),
        "{screen}: the page scrolls sideways at {} px",
        b.client
            .execute("return document.documentElement.clientWidth;", vec![])
            .await
            .unwrap()
    );
}

/// An admin connects an X account with OAuth from the panel: the consent page is on
/// another site (`localhost` against the panel's `127.0.0.1`), so the browser comes back
/// to the callback without the `SameSite=Strict` session cookie; the callback's page
/// reloads itself from Tocsin's own origin, the account is connected, and the admin page
/// says so and lists it with its scopes and token expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_connects_x_through_the_consent_page_and_back() {
    let driver = Chromedriver::start().await;
    let x = tocsin_test_support::x::start().await.unwrap();
    let consent_site = x.base_url.replace("127.0.0.1", "localhost");
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = HarnessOptions::for_repository(&repo);
    options.people.password_cost = PasswordCost::TESTS_ONLY;
    options.sandbox_accounts = vec![];
    options
        .app
        .oauth
        .clients
        .push(tocsin_app::oauth::OAuthClientConfig {
            platform: tocsin_domain::Platform::X,
            client_id: tocsin_test_support::x::CLIENT_ID.into(),
            client_secret: Some(tocsin_test_support::x::CLIENT_SECRET.to_string().into()),
            authorize_url: Some(format!("{consent_site}/i/oauth2/authorize")),
            token_url: Some(format!("{}/2/oauth2/token", x.base_url)),
        });
    let harness = Harness::start(db.store.clone(), Arc::new(SealingKey::generate()), options)
        .await
        .unwrap();
    let world = World { harness, _db: db };
    let base = world.harness.url();
    x.register_client(&format!("{base}/oauth/callback"));
    let root = world.add("root", Role::Admin).await;
    let shots = Shots::new("oauth_connect_x");
    let admin = Browser::open("admin", driver.session(1280, 900).await, &base, &shots);

    admin.sign_in("root", &root).await;
    admin.goto("#/admin").await;
    admin.find("oauth-form").await;
    admin
        .type_into("oauth-display-name", "County Health on X")
        .await;
    admin
        .type_into("oauth-settings", &format!("base_url = {}", x.base_url))
        .await;
    admin.shot_at("oauth-form", "oauth-form").await;
    admin.click("oauth-start").await;
    let notice = admin
        .wait_seen("oauth-connected", "connected notice", |s| s.displayed)
        .await;
    assert!(notice.text.contains("is connected"), "{notice:?}");
    admin
        .wait_seen("account-oauth-scopes", "the token's scopes", |s| {
            s.text.contains("tweet.write")
        })
        .await;
    let expiry = admin
        .wait_seen("account-oauth-expiry", "the token's expiry", |_| true)
        .await;
    assert!(expiry.text.starts_with("Expires"), "{expiry:?}");
    admin.shot_at("accounts", "oauth-connected").await;
    let accounts = world
        .harness
        .app
        .store()
        .accounts()
        .records()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].handle, "@CountyHealth");
    assert_eq!(
        x.accepted_token(),
        x.oauth().current_access_token().unwrap()
    );
    // Pasting a token over an OAuth connection is offered as what it is, with a warning.
    let replace = format!("account-replace-secret-{}", accounts[0].id);
    let button = admin
        .wait_seen(&replace, "the pasted-token button", |s| s.displayed)
        .await;
    assert_eq!(button.text, "Use a pasted token", "{button:?}");
    admin.click(&replace).await;
    admin
        .wait_seen("secret-dialog-oauth-warning", "the OAuth warning", |s| {
            s.text.contains("no longer refresh")
        })
        .await;
    admin.click("secret-dialog-cancel").await;
    admin.assert_no_page_errors().await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heard_post_appears_in_the_session_pane_as_text_and_is_marked_for_answer() {
    let driver = Chromedriver::start().await;
    let jet = tocsin_test_support::streaming::start_jetstream()
        .await
        .unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = HarnessOptions::for_repository(&repo);
    options.people.password_cost = PasswordCost::TESTS_ONLY;
    options.sandbox_accounts = vec![tocsin_domain::Platform::Mastodon];
    options.app.monitor = tocsin_app::monitor::MonitorConfig {
        enabled: true,
        jetstream_url: Some(jet.ws_url().parse().unwrap()),
        reevaluate_every: Duration::from_millis(200),
        ..Default::default()
    };
    let harness = Harness::start(db.store.clone(), Arc::new(SealingKey::generate()), options)
        .await
        .unwrap();
    let world = World { harness, _db: db };
    let store = world.harness.app.store().clone();
    let session = world.live_session().await;
    let dana = world.add("dana", Role::Drafter).await;
    let shots = Shots::new("conversation_pane");
    let b = Browser::open(
        "dana",
        driver.session(1024, 1366).await,
        &world.harness.url(),
        &shots,
    );

    b.sign_in("dana", &dana).await;
    b.goto(&format!("#/sessions/{session}")).await;
    b.find("conversation-pane").await;
    b.wait_seen("conversation-stream", "connected", |s| {
        s.text.contains("connected")
    })
    .await;
    jet.push_post(
        "did:plc:ann",
        "3kann",
        "Will she walk today? <b>bold</b> <img src=x onerror=alert(1)> #StvKnee",
        &["StvKnee"],
        1_000,
    );
    let post_id = eventually("the post stored", PATIENCE, || async {
        let posts = store
            .conversation()
            .posts(session, 10, false)
            .await
            .unwrap();
        posts
            .first()
            .map(|p| p.id)
            .ok_or_else(|| "none yet".to_string())
    })
    .await;
    let item = format!("conversation-post-{post_id}");
    let seen = b
        .wait_seen(&item, "the heard post", |s| {
            s.text.contains("Will she walk")
        })
        .await;
    assert!(seen.text.contains("<b>bold</b>"), "{seen:?}");
    assert!(seen.text.contains("Bluesky"), "{seen:?}");
    assert_eq!(
        b.count(&format!("{} b, {} img", tid(&item), tid(&item)))
            .await,
        0
    );
    b.shot_at("conversation-pane", "post-heard").await;
    b.click(&format!("conversation-mark-{post_id}")).await;
    b.wait_seen(
        &format!("conversation-answered-{post_id}"),
        "Answered offered",
        |_| true,
    )
    .await;
    b.click("conversation-questions-only").await;
    b.wait_seen(&item, "still shown among questions", |_| true)
        .await;
    b.shot_at("conversation-pane", "marked").await;
    let audit = store
        .audit()
        .read(&tocsin_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.entry.event.action == "conversation.question_marked"));
    b.assert_no_page_errors().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_person_enrols_at_their_link_and_signs_in_with_what_they_chose() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let base = world.harness.url();
    let root = world.add("root", Role::Admin).await;
    let shots = Shots::new("enrolment");
    let admin = Browser::open("admin", driver.session(1280, 900).await, &base, &shots);
    admin.trap_page_errors().await;
    admin.sign_in("root", &root).await;
    admin.goto("#/admin").await;
    admin.type_into("new-user-name", "nia").await;
    admin.click("new-user-add").await;
    let link = admin
        .wait_seen("invite-link", "the enrolment link", |s| s.displayed)
        .await;
    let token = link
        .text
        .split_once("/#/enrol/")
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_else(|| panic!("no link in {link:?}"));
    assert_eq!(
        admin.count("[data-testid=\"new-invite\"] code").await,
        1,
        "the admin sees the link and nothing else to copy"
    );
    admin.assert_no_page_errors().await;
    admin.close().await;

    let nia = Browser::open("nia", driver.session(1280, 900).await, &base, &shots);
    nia.trap_page_errors().await;
    nia.goto(&format!("#/enrol/{token}")).await;
    let secret = nia
        .wait_seen("enrol-secret", "the new second factor", |s| s.displayed)
        .await
        .text;
    assert_eq!(nia.count("[data-testid=\"enrol-qr\"] svg").await, 1);
    assert!(nia.count("[data-testid=\"enrol-qr\"] svg path").await >= 1);
    nia.shot_at("enrol-factor", "enrol-page").await;
    nia.type_into("enrol-password", password("nia").expose_secret())
        .await;
    nia.type_into("enrol-password-again", password("nia").expose_secret())
        .await;
    // The previous step's code proves the factor; the current one stays for sign-in.
    let code = totp::code_from_base32(&secret, chrono::Utc::now() - chrono::Duration::seconds(30))
        .unwrap();
    nia.type_into("enrol-code", &code).await;
    nia.click("enrol-submit").await;
    nia.wait_seen("enrol-done", "the enrolment worked", |s| s.displayed)
        .await;
    nia.goto("#/signin").await;
    nia.sign_in("nia", &secret).await;
    nia.assert_no_page_errors().await;
    nia.close().await;
}

/// Choosing who hears it: the drafter leaves the residents' SMS list out and adds the
/// staff Slack, outside the playbook's audience; the counts per platform and the
/// previews follow; the approver must tick the confirmation before approving; the grid
/// shows exactly the chosen accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drafter_chooses_the_targets_and_the_approver_confirms_one_outside_the_audience() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("choosing_targets");
    let base = world.harness.url();
    let dana = world.add("dana", Role::Drafter).await;
    let alex = world.add("alex", Role::Approver).await;
    let account_for = |platform: tocsin_domain::Platform| {
        let at = tocsin_connectors::ALL
            .iter()
            .position(|d| d.platform == platform)
            .unwrap();
        world.harness.accounts[at]
    };
    let (sms, slack) = (
        account_for(tocsin_domain::Platform::Sms),
        account_for(tocsin_domain::Platform::Slack),
    );
    let store = world.harness.app.store();
    store
        .accounts()
        .set_groups("admin", sms, &["residents-sms".to_string()])
        .await
        .unwrap();
    store
        .accounts()
        .set_groups("admin", slack, &["staff".to_string()])
        .await
        .unwrap();

    let (a, b) = tokio::join!(driver.session(1280, 800), driver.session(1280, 800));
    let drafter = Browser::open("drafter", a, &base, &shots);
    let approver = Browser::open("approver", b, &base, &shots);
    drafter.sign_in("dana", &dana).await;
    drafter.goto("#/new/boil-water").await;
    drafter.type_into("var-area", CLEAN_AREA).await;
    drafter
        .find("var-cause")
        .await
        .select_by_value("a water main break")
        .await
        .unwrap();
    set_datetime(&drafter, "var-issued_at", "2026-07-14T09:30").await;
    drafter
        .type_into("var-info_url", "https://health.example.gov/water")
        .await;
    drafter.type_into("var-hotline", "+13125550143").await;

    // The playbook's audience (public, residents-sms, partners): everyone but Slack.
    drafter
        .wait_seen("target-counts", "14 accounts", |s| {
            s.text.starts_with("14 accounts")
        })
        .await;
    drafter.find("preview-sms").await;
    assert!(drafter.get("preview-slack").await.is_none());
    drafter
        .shot_at("target-chooser", "drafter-default-targets")
        .await;

    // Leave the SMS list out: its count and its preview go.
    drafter.click("target-group-residents-sms").await;
    drafter
        .wait_seen("target-counts", "13 accounts", |s| {
            s.text.starts_with("13 accounts") && !s.text.contains("SMS")
        })
        .await;
    drafter.wait_gone("preview-sms").await;
    // Add the staff Slack, outside the audience: said so, and previewed.
    drafter.click(&format!("target-account-{slack}")).await;
    let outside = drafter.wait_seen("target-outside", "shown", |_| true).await;
    assert!(
        outside.text.contains("approver must confirm"),
        "{}",
        outside.text
    );
    drafter
        .wait_seen("target-counts", "14 accounts with slack", |s| {
            s.text.starts_with("14 accounts") && s.text.contains("Slack 1")
        })
        .await;
    drafter.find("preview-slack").await;
    drafter
        .shot_at("target-chooser", "drafter-chosen-targets")
        .await;

    drafter.click("save-draft-button").await;
    let route = drafter
        .wait_route("saved draft", |r| r.starts_with("/drafts/"))
        .await;
    drafter
        .wait_seen("target-counts", "kept", |s| {
            s.text.starts_with("14 accounts")
        })
        .await;
    drafter.click("submit-button").await;
    drafter
        .wait_seen("draft-state", "submitted", |s| {
            s.state.as_deref() == Some("submitted")
        })
        .await;

    // The approver sees the same set, and cannot approve without confirming it.
    approver.sign_in("alex", &alex).await;
    approver.goto(&format!("#{route}")).await;
    approver.find("confirm-targets-box").await;
    approver
        .wait_seen("target-counts", "14", |s| s.text.starts_with("14 accounts"))
        .await;
    approver.click("approve-button").await;
    let refused = approver
        .wait_seen("confirm-targets-error", "refusal", |s| !s.text.is_empty())
        .await;
    assert!(
        refused.text.contains("outside the playbook"),
        "{}",
        refused.text
    );
    approver.shot("approver-must-confirm").await;
    approver.click("confirm-targets").await;
    approver.click("approve-button").await;
    approver
        .wait_route("the delivery grid", |r| r.starts_with("/messages/"))
        .await;
    approver
        .wait_seen(&format!("delivery-{slack}"), "delivered", |s| {
            s.state.as_deref() == Some("delivered")
        })
        .await;
    assert!(approver.get(&format!("delivery-{sms}")).await.is_none());
    let line = approver.wait_seen("message-targets", "", |_| true).await;
    assert!(line.text.contains("slack 1"), "{}", line.text);
    approver.shot("approver-grid").await;
    drafter.assert_no_page_errors().await;
    approver.assert_no_page_errors().await;
    drafter.close().await;
    approver.close().await;
}

/// An admin sets which languages an account posts from the admin page: the dialog takes
/// the tags and whether they go together, the row says so, the account has them; a tag
/// that is not BCP 47 is refused in the dialog, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_an_account_s_languages_on_the_admin_page() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("account_languages");
    let base = world.harness.url();
    let root = world.add("root", Role::Admin).await;
    let at = tocsin_connectors::ALL
        .iter()
        .position(|d| d.platform == tocsin_domain::Platform::Mastodon)
        .unwrap();
    let mastodon = world.harness.accounts[at];
    let admin = Browser::open("admin", driver.session(1280, 900).await, &base, &shots);
    admin.sign_in("root", &root).await;
    admin.goto("#/admin").await;

    admin
        .click(&format!("account-languages-edit-{mastodon}"))
        .await;
    admin.type_into("languages-dialog-input", "en xx_bad").await;
    admin.click("languages-dialog-save").await;
    let refused = admin
        .wait_seen("languages-dialog-input-error", "refusal", |s| {
            !s.text.is_empty()
        })
        .await;
    assert!(refused.text.contains("xx_bad"), "{}", refused.text);
    admin.type_into("languages-dialog-input", "en es").await;
    admin.click("languages-dialog-together").await;
    admin.shot_at("languages-dialog", "languages-dialog").await;
    admin.click("languages-dialog-save").await;
    admin.wait_gone("languages-dialog").await;
    admin
        .wait_seen(&format!("account-{mastodon}"), "the row says so", |s| {
            s.text.contains("en, es (together)")
        })
        .await;
    let record = world
        .harness
        .app
        .store()
        .accounts()
        .get(mastodon)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record
            .languages
            .languages
            .iter()
            .map(|l| l.as_str().to_string())
            .collect::<Vec<_>>(),
        vec!["en".to_string(), "es".to_string()]
    );
    assert_eq!(record.languages.posts.as_str(), "together");
    admin.assert_no_page_errors().await;
    admin.close().await;
}

/// Images as a comms lead adds them: a photo uploaded in the form is described (the
/// preview says which platforms go without it, and that Instagram takes no post without
/// an image before there is one), the draft's alert card is added from the draft page in
/// both sizes, and the approver publishes them: every account that takes images gets the
/// photo with its description and the 1200x675 card, the Instagram stand-in the card's
/// square 1080x1080 version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drafter_adds_a_photo_and_the_alert_card_and_the_approver_publishes_them() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("images_and_cards");
    let base = world.harness.url();
    let dana = world.add("dana", Role::Drafter).await;
    let alex = world.add("alex", Role::Approver).await;
    let account_for = |platform: tocsin_domain::Platform| {
        let at = tocsin_connectors::ALL
            .iter()
            .position(|d| d.platform == platform)
            .unwrap();
        world.harness.accounts[at]
    };
    let instagram = account_for(tocsin_domain::Platform::Instagram);
    let mastodon = account_for(tocsin_domain::Platform::Mastodon);
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("clinic-photo.jpg");
    image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    })
    .save_with_format(&photo, image::ImageFormat::Jpeg)
    .unwrap();

    let (a, b) = tokio::join!(driver.session(1280, 900), driver.session(1280, 900));
    let drafter = Browser::open("drafter", a, &base, &shots);
    let approver = Browser::open("approver", b, &base, &shots);
    drafter.sign_in("dana", &dana).await;
    drafter.goto("#/new/boil-water").await;
    drafter.type_into("var-area", CLEAN_AREA).await;
    drafter
        .find("var-cause")
        .await
        .select_by_value("a water main break")
        .await
        .unwrap();
    set_datetime(&drafter, "var-issued_at", "2026-07-14T09:30").await;
    drafter
        .type_into("var-info_url", "https://health.example.gov/water")
        .await;
    drafter.type_into("var-hotline", "+13125550143").await;
    // No image yet: the preview says Instagram takes no post without one.
    drafter
        .wait_seen("image-notes", "Instagram needs an image", |s| {
            s.text.contains("Instagram: takes no post without an image")
        })
        .await;

    // The photo, uploaded and described.
    drafter
        .find("image-file")
        .await
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    drafter.find("image-alt-0").await;
    let alt = "Nurse handing out bottled water at the Riverside clinic door";
    drafter.type_into("image-alt-0", alt).await;
    drafter
        .wait_seen("preview-images-mastodon", "the photo", |_| true)
        .await;
    drafter
        .wait_seen("preview-no-image-sms", "SMS without it", |s| {
            s.text.contains("Sent without the image")
        })
        .await;
    drafter
        .wait_seen("image-notes", "SMS note", |s| {
            s.text.contains("SMS: sent without the image")
                && !s.text.contains("takes no post without an image")
        })
        .await;
    drafter.shot_at("images", "drafter-photo-described").await;
    drafter.click("save-draft-button").await;
    let route = drafter
        .wait_route("saved draft", |r| r.starts_with("/drafts/"))
        .await;

    // The alert card, drawn with the draft's values, added to the post.
    let card_alt = drafter.wait_seen("card-alt", "card", |_| true).await;
    drafter
        .shot_at("card-preview", "drafter-card-preview")
        .await;
    drafter.click("card-attach").await;
    drafter
        .wait_seen(
            "image-square-1",
            "the card kept with its square version",
            |s| s.text.contains("Instagram gets its square"),
        )
        .await;
    assert_eq!(drafter.value("image-alt-0").await, alt);
    let kept_alt = drafter.value("image-alt-1").await;
    assert!(
        card_alt.text.ends_with(&kept_alt),
        "{} / {kept_alt}",
        card_alt.text
    );
    drafter.click("submit-button").await;
    drafter
        .wait_seen("draft-state", "submitted", |s| {
            s.state.as_deref() == Some("submitted")
        })
        .await;

    // The approver reads both images with the text, and publishes.
    approver.sign_in("alex", &alex).await;
    approver.goto(&format!("#{route}")).await;
    approver
        .wait_seen("preview-images-mastodon", "both images", |_| true)
        .await;
    let described = approver
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=\"preview-images-mastodon\"] img')].map((i) => i.alt);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(described[0], json!(alt));
    assert_eq!(described[1], json!(kept_alt));
    approver.shot("approver-images").await;
    approver.click("approve-button").await;
    approver
        .wait_route("the delivery grid", |r| r.starts_with("/messages/"))
        .await;
    for account in [instagram, mastodon] {
        approver
            .wait_seen(&format!("delivery-{account}"), "delivered", |s| {
                s.state.as_deref() == Some("delivered")
            })
            .await;
    }
    let posts = world.harness.sandbox.posts();
    let images_of = |account: i64| {
        let post = posts
            .iter()
            .find(|p| p.account == account.to_string())
            .unwrap_or_else(|| panic!("no post for account {account}"));
        post.post
            .images
            .iter()
            .map(|i| (i.media_type.clone(), i.width, i.height, i.alt.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        images_of(mastodon),
        vec![
            ("image/jpeg".to_string(), 640, 480, alt.to_string()),
            ("image/png".to_string(), 1200, 675, kept_alt.clone()),
        ]
    );
    assert_eq!(
        images_of(instagram),
        vec![
            ("image/jpeg".to_string(), 640, 480, alt.to_string()),
            ("image/jpeg".to_string(), 1080, 1080, kept_alt.clone()),
        ]
    );
    drafter.assert_no_page_errors().await;
    approver.assert_no_page_errors().await;
    drafter.close().await;
    approver.close().await;
}

/// A live session as a comms lead runs one: the session's fixed values (hospital, team,
/// procedure, start, link) are typed once when it starts; the introduction then needs no
/// field at all, and an update is one line typed, counted and submitted, after which the
/// form is empty and shows no error. The approver standing by sees every platform's text
/// on the session page and approves in one click; the line reaches every account's
/// thread. How long the update took from typing to approval is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_post_is_one_line_typed_counted_and_approved_on_the_session_page() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let dana = world.add("dana", Role::Drafter).await;
    let alex = world.add("alex", Role::Approver).await;
    let base = world.harness.url();
    let shots = Shots::new("live_session_one_line");
    let d = Browser::open("dana", driver.session(1280, 1000).await, &base, &shots);
    d.trap_page_errors().await;
    d.sign_in("dana", &dana).await;
    d.goto("#/sessions").await;
    d.wait_seen("session-fixed", "the fixed values", |s| {
        s.text.contains("Set once for every post")
    })
    .await;
    d.type_into("session-hashtag", "MercyKneeLive").await;
    d.type_into("var-hospital", "Mercy General Hospital").await;
    d.type_into("var-team", "our knee team").await;
    d.type_into("var-procedure", "knee replacement").await;
    d.click("var-now-starts_at").await;
    d.type_into("var-info_url", "https://health.example.gov/knee")
        .await;
    d.shot("start").await;
    d.click("session-create").await;
    let route = d
        .wait_route("the session page", |r| r.starts_with("/sessions/"))
        .await;
    let session: i64 = route.trim_start_matches("/sessions/").parse().unwrap();
    d.find("session-composer").await;

    // The introduction reads only what the session fixed: no field to fill.
    for fixed in [
        "var-hospital",
        "var-team",
        "var-procedure",
        "var-update_text",
    ] {
        d.wait_gone(fixed).await;
    }
    d.wait_seen("preview-area", "the introduction's preview", |s| {
        s.text.contains("our knee team at Mercy General Hospital")
    })
    .await;
    d.click("quick-post-button").await;
    d.wait_seen("quick-post-status", "submitted", |s| {
        s.text.contains("Submitted for approval")
    })
    .await;

    let a = Browser::open("alex", driver.session(1280, 1000).await, &base, &shots);
    a.trap_page_errors().await;
    a.sign_in("alex", &alex).await;
    a.goto(&format!("#/sessions/{session}")).await;

    // The update: one line.
    let line = "The surgeon has made the first cut.";
    d.wait_seen("var-update_text", "the update's one field", |_| true)
        .await;
    for other in ["var-question", "var-answer", "var-team"] {
        d.wait_gone(other).await;
    }
    let typed_at = std::time::Instant::now();
    d.type_into("var-update_text", line).await;
    d.wait_seen("preview-area", "the update counted", |s| {
        s.text.contains(line) && s.text.contains(" / ")
    })
    .await;
    d.shot("update-typed").await;
    d.click("quick-post-button").await;
    let link = d.find("quick-post-draft-link").await;
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    let draft: i64 = href.trim_start_matches("#/drafts/").parse().unwrap();
    // The form is empty again, with no error under any field.
    assert_eq!(d.value("var-update_text").await, "");
    assert_eq!(d.count(".var-form .field.invalid").await, 0);
    let err = d.seen("var-error-update_text").await.map(|s| s.text);
    assert_eq!(err.as_deref().unwrap_or(""), "");
    d.shot("after-post").await;

    // The approver sees every platform's text and approves in one click.
    let variants = a
        .wait_seen(
            &format!("session-draft-{draft}-variants"),
            "every platform",
            |s| s.text.contains(line),
        )
        .await;
    let per_platform = a
        .count(&format!(
            "{} li",
            tid(&format!("session-draft-{draft}-variants"))
        ))
        .await;
    assert!(per_platform > 1, "{variants:?}");
    a.shot("approver-sees-every-platform").await;
    a.click(&format!("session-approve-{draft}")).await;
    a.wait_seen("session-threads", "the line in the threads", |s| {
        s.text.contains(line)
    })
    .await;
    println!(
        "live session update: {:.1} s from typing the line to its approval reaching the threads (browser test, not a benchmark)",
        typed_at.elapsed().as_secs_f64()
    );
    a.shot("approved").await;
    d.assert_no_page_errors().await;
    a.assert_no_page_errors().await;
    d.close().await;
    a.close().await;
}

/// A form that helps: an end before its start is refused at the end's field and listed
/// in the summary at the top (whose line takes the focus to the field); put right, both
/// go. The form with its summary passes axe-core's WCAG 2.2 AA rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_before_its_start_is_named_at_its_field_and_in_the_summary_at_the_top() {
    let axe = axe_script();
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let dana = world.add("dana", Role::Drafter).await;
    let shots = Shots::new("form_summary");
    let b = Browser::open(
        "dana",
        driver.session(1280, 1000).await,
        &world.harness.url(),
        &shots,
    );
    b.trap_page_errors().await;
    b.sign_in("dana", &dana).await;
    b.goto("#/new/service-disruption").await;
    b.find("var-since").await;
    b.click("var-in-hour-since").await;
    b.click("var-now-expected_back").await;
    let err = b
        .wait_seen("var-error-expected_back", "the range refused", |s| {
            s.text.contains("must come after Down since")
        })
        .await;
    assert!(!err.text.contains("variable `"), "{}", err.text);
    let summary = b
        .wait_seen("form-summary", "the summary", |s| {
            s.text.contains("Expected back (optional): ") && s.text.contains("must come after")
        })
        .await;
    assert!(summary.text.contains("needs attention"), "{}", summary.text);
    b.shot("range-refused").await;
    let found = b.axe(&axe, None).await;
    assert!(found.is_empty(), "{found:#?}");
    // The summary's line takes the focus to the field.
    b.client
        .find(Locator::Css(r#"[data-testid="form-summary"] button"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let focused = b
        .client
        .execute("return document.activeElement.name;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("expected_back"));
    // Put right: the end an hour after a start of now.
    b.click("var-now-since").await;
    b.click("var-in-hour-expected_back").await;
    b.wait_gone("var-error-expected_back").await;
    b.wait_gone("form-summary").await;
    b.shot("range-right").await;
    b.assert_no_page_errors().await;
    b.close().await;
}

/// Ending a live session from its page: the dialog says what ending does, and once
/// confirmed the page shows it ended and the composer is gone, there and on a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_live_session_hides_its_composer() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let store = world.harness.app.store().clone();
    let session = world.live_session().await;
    let dana = world.add("dana", Role::Drafter).await;
    let shots = Shots::new("ending_a_session");
    let b = Browser::open(
        "dana",
        driver.session(1024, 1366).await,
        &world.harness.url(),
        &shots,
    );
    b.trap_page_errors().await;
    b.sign_in("dana", &dana).await;
    b.goto(&format!("#/sessions/{session}")).await;
    b.find("session-composer").await;
    b.click("session-end").await;
    let dialog = b
        .wait_seen("confirm-dialog", "the end dialog", |s| s.displayed)
        .await;
    assert!(
        dialog
            .text
            .contains("posts waiting for approval are withdrawn"),
        "{dialog:?}"
    );
    b.shot("end-dialog").await;
    b.click("confirm-ok").await;
    b.wait_seen("session-state", "ended", |s| s.text.contains("Ended"))
        .await;
    b.wait_gone("session-composer").await;
    assert_eq!(b.count(&tid("session-end")).await, 0);
    b.shot("ended").await;
    b.goto("#/sessions").await;
    b.goto(&format!("#/sessions/{session}")).await;
    b.wait_seen("session-state", "ended", |s| s.text.contains("Ended"))
        .await;
    assert_eq!(b.count(&tid("session-composer")).await, 0);
    let audit = store
        .audit()
        .read(&tocsin_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|e| e.entry.event.action == "session.end" && e.entry.event.actor == "dana"));
    b.assert_no_page_errors().await;
    b.close().await;
}

/// A code used once is refused with words that say so, at the code field: the person
/// waits for the next code instead of retyping the same one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_already_used_is_named_as_such_at_sign_in() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let dana = world.add("dana", Role::Drafter).await;
    let shots = Shots::new("code_already_used");
    let b = Browser::open(
        "dana",
        driver.session(1280, 800).await,
        &world.harness.url(),
        &shots,
    );
    let code = totp::code_from_base32(&dana, chrono::Utc::now()).unwrap();
    let enter = |code: String| {
        let b = &b;
        async move {
            b.type_into("signin-name", "dana").await;
            b.type_into("signin-password", password("dana").expose_secret())
                .await;
            b.type_into("signin-code", &code).await;
            b.click("signin-submit").await;
        }
    };
    b.goto("#/signin").await;
    b.trap_page_errors().await;
    enter(code.clone()).await;
    b.wait_seen("current-user", "signed in", |s| s.text == "dana")
        .await;
    b.click("sign-out").await;
    b.wait_seen("signin-message", "signed out", |_| true).await;
    // The same code again (also if the clock moved to the next step meanwhile: the
    // step was used either way).
    enter(code).await;
    let form = eventually("the refusal shown", PATIENCE, || async {
        let text = b
            .client
            .find(Locator::Css("form.signin-form"))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        if text.contains("already used") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    assert!(form.contains("wait for the next code"), "{form}");
    b.shot("code-already-used").await;
    assert_eq!(b.count(&tid("current-user")).await, 0);
    b.assert_no_page_errors().await;
    b.close().await;
}

/// Under `tocsin demo`, where re-authentication asks for a password and a code, the
/// dialog shows the demo user's own and fills them in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_the_current_code_where_reauthentication_asks_for_it() {
    let driver = Chromedriver::start().await;
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = HarnessOptions::for_repository(&repo);
    options.people.password_cost = PasswordCost::TESTS_ONLY;
    // Any action that needs a recent sign-in asks again after a second.
    options.people.sessions.reauthentication_window = chrono::Duration::seconds(1);
    let key = Arc::new(SealingKey::generate());
    // The demo user exists before the server starts, as `tocsin demo` makes it.
    let people =
        tocsin_app::people::People::new(db.store.clone(), key.clone(), options.people.clone())
            .unwrap();
    let secret = tocsin_app::people::enrolment::add_and_enrol(
        &people,
        OPERATOR,
        "alex",
        Role::Approver,
        password("alex"),
    )
    .await
    .unwrap()
    .expose_secret()
    .to_string();
    options.server.demo_users = vec![tocsin_web::server::DemoUser {
        name: "alex".into(),
        password: password("alex").expose_secret().to_string(),
        role: "approver".into(),
        totp_secret: secret.clone(),
    }];
    let harness = Harness::start(db.store.clone(), key, options)
        .await
        .unwrap();
    let shots = Shots::new("demo_reauthentication");
    let b = Browser::open(
        "alex",
        driver.session(1280, 800).await,
        &harness.url(),
        &shots,
    );
    b.sign_in("alex", &secret).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.goto("#/account").await;
    b.click("account-new-factor").await;
    b.wait_seen("reauth-dialog", "open", |_| true).await;
    let shown = b
        .wait_seen("reauth-demo-code", "the demo code", |s| {
            s.text.len() == 6 && s.text.chars().all(|c| c.is_ascii_digit())
        })
        .await;
    b.click("reauth-demo-fill").await;
    let filled = b
        .find("reauth-code")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(filled, shown.text);
    let password_filled = b
        .find("reauth-password")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(password_filled, password("alex").expose_secret());
    b.shot("reauth-with-demo-code").await;
    // In the demo a new draft starts from the playbook's example values.
    b.goto("#/new/boil-water").await;
    b.wait_seen("draft-start-note", "the demo's starting point", |s| {
        s.text.contains("example values")
    })
    .await;
    assert_eq!(
        b.value("var-area").await,
        "North Side, ZIP codes 60640, 60660 and 60626"
    );
    b.assert_no_page_errors().await;
    b.close().await;
    harness.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// accessibility: axe-core

/// axe-core's script (npm `axe-core`, MPL-2.0): `TOCSIN_AXE_JS`, or where `.ci/run` puts
/// it. Required: an accessibility check that cannot run fails, it is never skipped.
fn axe_script() -> String {
    let path = std::env::var_os("TOCSIN_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache/tocsin-test/axe/package/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is needed for the accessibility tests and was not found at {} ({e}): \
             run .ci/run once, or `npm pack axe-core@4.14.1` and unpack it there, or set TOCSIN_AXE_JS",
            path.display()
        )
    })
}

impl Browser {
    /// Runs axe-core's WCAG 2.2 A/AA rules on the page as it is now (on `selector` only,
    /// when given); returns each violation as `rule: target (summary)`.
    async fn axe(&self, axe: &str, selector: Option<&str>) -> Vec<String> {
        self.client
            .execute(&format!("{axe}\n;return true;"), vec![])
            .await
            .unwrap();
        let result = self
            .client
            .execute_async(
                "const [selector, done] = arguments; \
                 axe.run(selector ? document.querySelector(selector) : document, \
                   { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }) \
                   .then((r) => done(r.violations.flatMap((v) => v.nodes.map((n) => \
                     `${v.id}: ${n.target.join(' ')} (${(n.failureSummary || '').replace(/\\s+/g, ' ')})`)))) \
                   .catch((e) => done([`axe failed: ${e}`]));",
                vec![json!(selector)],
            )
            .await
            .unwrap();
        serde_json::from_value(result).unwrap_or_else(|e| vec![format!("axe answer: {e}")])
    }
}

/// The panel passes axe-core's WCAG 2.2 AA rules (colour contrast included) in the light
/// and the dark theme: sign-in, the alerts page, a message with its danger buttons, and
/// those buttons hovered and focused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_meets_wcag_aa_in_both_themes_with_danger_buttons_hovered_and_focused() {
    let axe = axe_script();
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let base = world.harness.url();
    let alex = world.add("alex", Role::Approver).await;
    let dana = world.add("dana", Role::Drafter).await;
    // A message to look at: drafted, submitted and approved through the API.
    let message = publish_through_api(&world, ("dana", &dana), ("alex", &alex)).await;
    let shots = Shots::new("accessibility");
    // Each theme signs in as its own approver (a code works once).
    for (theme, extra, who) in [
        ("light", &[][..], "ann"),
        ("dark", &["--force-dark-mode"][..], "abe"),
    ] {
        let secret = world.add(who, Role::Approver).await;
        let b = Browser::open(
            theme,
            driver.session_with(1280, 900, extra).await,
            &base,
            &shots,
        );
        b.goto("#/signin").await;
        b.find("signin-name").await;
        let dark: bool = serde_json::from_value(
            b.client
                .execute(
                    "return matchMedia('(prefers-color-scheme: dark)').matches;",
                    vec![],
                )
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(dark, theme == "dark", "the {theme} theme is in force");
        // First, that axe does see a contrast failure here (so the check can fail).
        b.client
            .execute(
                "const p = document.createElement('p'); p.id = 'axe-canary'; \
                 p.textContent = 'pale text'; p.style.color = '#cccccc'; \
                 p.style.background = '#ffffff'; document.body.append(p); return true;",
                vec![],
            )
            .await
            .unwrap();
        let canary = b.axe(&axe, Some("#axe-canary")).await;
        assert!(
            canary.iter().any(|v| v.starts_with("color-contrast")),
            "axe did not flag pale text: {canary:?}"
        );
        b.client
            .execute(
                "document.getElementById('axe-canary').remove(); return true;",
                vec![],
            )
            .await
            .unwrap();
        let mut found = Vec::new();
        found.extend(
            b.axe(&axe, None)
                .await
                .into_iter()
                .map(|v| format!("sign-in: {v}")),
        );
        b.sign_in(who, &secret).await;
        b.find("playbook-list").await;
        found.extend(
            b.axe(&axe, None)
                .await
                .into_iter()
                .map(|v| format!("alerts: {v}")),
        );
        b.goto(&format!("#/messages/{message}")).await;
        b.find("retract-button").await;
        found.extend(
            b.axe(&axe, None)
                .await
                .into_iter()
                .map(|v| format!("message: {v}")),
        );
        b.shot(&format!("{theme}-message")).await;
        // The danger button hovered, then focused by keyboard.
        let button = b.find("retract-button").await;
        b.client
            .perform_actions(fantoccini::actions::MouseActions::new("mouse".into()).then(
                fantoccini::actions::PointerAction::MoveToElement {
                    element: button.clone(),
                    duration: None,
                    x: 0.0,
                    y: 0.0,
                },
            ))
            .await
            .unwrap();
        found.extend(
            b.axe(&axe, Some("[data-testid=retract-button]"))
                .await
                .into_iter()
                .map(|v| format!("danger hovered: {v}")),
        );
        b.shot(&format!("{theme}-danger-hovered")).await;
        b.client
            .execute(
                "document.querySelector('[data-testid=retract-button]').focus(); return true;",
                vec![],
            )
            .await
            .unwrap();
        found.extend(
            b.axe(&axe, Some("[data-testid=retract-button]"))
                .await
                .into_iter()
                .map(|v| format!("danger focused: {v}")),
        );
        assert!(found.is_empty(), "{theme} theme: {found:#?}");
        b.close().await;
    }
}

/// The pages a compliance officer and an administrator use pass axe-core's WCAG 2.2 AA
/// rules in both themes: the audit log, a message's whole story, the consent register,
/// the live sessions list and a session's page, your account, a draft awaiting approval,
/// the calendar, and the admin page (users and accounts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_story_consent_sessions_account_and_admin_pages_meet_wcag_aa_in_both_themes() {
    let axe = axe_script();
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let base = world.harness.url();
    let alex = world.add("alex", Role::Approver).await;
    let dana = world.add("dana", Role::Drafter).await;
    let message = publish_through_api(&world, ("dana", &dana), ("alex", &alex)).await;
    let dave = world.add("dave", Role::Drafter).await;
    let waiting = submit_through_api(&world, ("dave", &dave)).await;
    let waiting = waiting["id"].as_i64().unwrap();
    let session = world.live_session().await;
    let shots = Shots::new("accessibility-pages");
    for (theme, extra, officer, admin, compliance_label, admin_label) in [
        (
            "light",
            &[][..],
            "cora",
            "ada",
            "light-compliance",
            "light-admin",
        ),
        (
            "dark",
            &["--force-dark-mode"][..],
            "cleo",
            "abel",
            "dark-compliance",
            "dark-admin",
        ),
    ] {
        let officer_secret = world.add(officer, Role::Compliance).await;
        let admin_secret = world.add(admin, Role::Admin).await;
        let mut found = Vec::new();

        let b = Browser::open(
            compliance_label,
            driver.session_with(1280, 900, extra).await,
            &base,
            &shots,
        );
        b.sign_in(officer, &officer_secret).await;
        b.find("playbook-list").await;
        for (page, route, ready) in [
            ("audit", "#/audit".to_string(), "audit-row"),
            ("story", format!("#/messages/{message}/story"), "story-row"),
            ("consent", "#/consent".to_string(), "consent-add-button"),
            ("sessions", "#/sessions".to_string(), "session-list"),
            ("account", "#/account".to_string(), "account-password-save"),
            ("draft", format!("#/drafts/{waiting}"), "draft-values"),
            (
                "session",
                format!("#/sessions/{session}"),
                "session-threads",
            ),
            ("calendar", "#/calendar".to_string(), "calendar-week"),
        ] {
            b.goto(&route).await;
            b.find(ready).await;
            b.shot(&format!("{theme}-{page}")).await;
            found.extend(
                b.axe(&axe, None)
                    .await
                    .into_iter()
                    .map(|v| format!("{page}: {v}")),
            );
        }
        b.close().await;

        let b = Browser::open(
            admin_label,
            driver.session_with(1280, 900, extra).await,
            &base,
            &shots,
        );
        b.sign_in(admin, &admin_secret).await;
        b.goto("#/admin").await;
        b.find("users-table").await;
        b.find("accounts-table").await;
        b.shot(&format!("{theme}-admin")).await;
        found.extend(
            b.axe(&axe, None)
                .await
                .into_iter()
                .map(|v| format!("admin: {v}")),
        );
        b.close().await;
        assert!(found.is_empty(), "{theme} theme: {found:#?}");
    }
}

/// A client of the JSON API signed in as `who` (name, TOTP secret).
async fn api_client(world: &World, who: (&str, &str)) -> reqwest::Client {
    let base = world.harness.url();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let code = totp::code_from_base32(who.1, chrono::Utc::now()).unwrap();
    let r = http
        .post(format!("{base}/api/session"))
        .json(&json!({"name": who.0, "password": password(who.0).expose_secret(), "code": code}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{} signs in: {}",
        who.0,
        r.text().await.unwrap()
    );
    http
}

/// A boil-water alert drafted and submitted by `drafter` over the JSON API, with the
/// playbook's example values; returns the submitted draft.
async fn submit_through_api(world: &World, drafter: (&str, &str)) -> Value {
    let base = world.harness.url();
    let dana = api_client(world, drafter).await;
    let detail: Value = dana
        .get(format!("{base}/api/playbooks/boil-water"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let values: serde_json::Map<String, Value> = detail["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let value = v["example"].as_str().or(v["default"].as_str())?;
            Some((v["name"].as_str().unwrap().to_string(), json!(value)))
        })
        .collect();
    let draft: Value = dana
        .post(format!("{base}/api/drafts"))
        .json(&json!({"playbook": "boil-water", "step": "alert", "values": values}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = draft["id"].as_i64().unwrap();
    dana.post(format!("{base}/api/drafts/{id}/submit"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A boil-water alert drafted by `drafter` and approved by `approver` over the JSON API;
/// returns the message id.
async fn publish_through_api(world: &World, drafter: (&str, &str), approver: (&str, &str)) -> i64 {
    let base = world.harness.url();
    let submitted = submit_through_api(world, drafter).await;
    let id = submitted["id"].as_i64().unwrap();
    let alex = api_client(world, approver).await;
    let approved: Value = alex
        .post(format!("{base}/api/drafts/{id}/approve"))
        .json(&json!({"reviewed_hash": submitted["hash"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    approved["message_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("approved: {approved}"))
}

/// Where the step allows it, the drafter writes a platform's text themselves: the card
/// shows it as written (marked so), the saved draft keeps it, and it is what goes for
/// approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drafter_writes_the_x_text_themselves_and_the_draft_keeps_it() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let dana = world.add("dana", Role::Drafter).await;
    let vera = world.add("vera", Role::Viewer).await;
    let shots = Shots::new("override");
    let b = Browser::open(
        "dana",
        driver.session(1280, 1000).await,
        &world.harness.url(),
        &shots,
    );
    b.trap_page_errors().await;
    b.sign_in("dana", &dana).await;
    b.goto("#/new/boil-water").await;
    // Every field filled with the playbook's examples (read by another person, since a
    // code signs in once).
    let detail: Value = api_client(&world, ("vera", &vera))
        .await
        .get(format!("{}/api/playbooks/boil-water", world.harness.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for v in detail["variables"].as_array().unwrap() {
        let (Some(name), Some(example)) = (v["name"].as_str(), v["example"].as_str()) else {
            continue;
        };
        if v["type"] == "datetime" {
            b.click(&format!("var-now-{name}")).await;
        } else if v["type"] == "choice" {
            b.find(&format!("var-{name}"))
                .await
                .select_by_value(example)
                .await
                .unwrap();
        } else {
            b.type_into(&format!("var-{name}"), example).await;
        }
    }
    b.wait_seen("preview-text-x", "the playbook's X text", |_| true)
        .await;
    b.client
        .find(Locator::Css(r#"[data-testid="overrides"] summary"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.click("override-on-x").await;
    let mine = "Boil tap water 1 minute before you drink or cook with it.";
    b.type_into("override-text-x", mine).await;
    b.wait_seen("preview-text-x", "the X text as written", |s| {
        s.text == mine
    })
    .await;
    b.wait_seen("preview-edited-x", "marked as written", |_| true)
        .await;
    b.shot("x-written").await;
    b.click("save-draft-button").await;
    b.wait_route("the saved draft", |r| r.starts_with("/drafts/"))
        .await;
    b.wait_seen("preview-text-x", "kept", |s| s.text == mine)
        .await;
    b.wait_seen("preview-edited-x", "still marked", |_| true)
        .await;
    assert_eq!(b.value("override-text-x").await, mine);
    b.assert_no_page_errors().await;
    b.close().await;
}

/// Sets a `datetime-local` field to the browser's local wall clock `minutes` from now, as
/// a person picking it would (the input event included).
async fn set_local_time(b: &Browser, id: &str, minutes: i64) {
    b.client
        .execute(
            "const [id, minutes] = arguments;
             const el = document.querySelector(`[data-testid=\"${id}\"]`);
             const d = new Date(Date.now() + minutes * 60000);
             const p = (n) => String(n).padStart(2, '0');
             el.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
             el.dispatchEvent(new Event('input', { bubbles: true }));
             return el.value;",
            vec![json!(id), json!(minutes)],
        )
        .await
        .unwrap();
}

/// The calendar as an approver uses it: a draft approved to go out later shows on the
/// week and is cancelled there; a sent message repeated from its page shows its runs,
/// and the repeat is stopped there. The week passes axe-core's WCAG 2.2 AA rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_shows_what_goes_out_later_and_cancels_it() {
    let axe = axe_script();
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let alex = world.add("alex", Role::Approver).await;
    let dana = world.add("dana", Role::Drafter).await;
    // Each person signs in once within a code's 30 s (a code works once).
    let dora = world.add("dora", Role::Drafter).await;
    let abe = world.add("abe", Role::Approver).await;
    let draft = submit_through_api(&world, ("dana", &dana)).await;
    let draft_id = draft["id"].as_i64().unwrap();
    let repeated = publish_through_api(&world, ("dora", &dora), ("abe", &abe)).await;
    let shots = Shots::new("calendar");
    let b = Browser::open(
        "alex",
        driver.session(1280, 1000).await,
        &world.harness.url(),
        &shots,
    );
    b.trap_page_errors().await;
    b.sign_in("alex", &alex).await;

    // Approve with "Send later", ten minutes from now.
    b.goto(&format!("#/drafts/{draft_id}")).await;
    b.find("approve-button").await;
    set_local_time(&b, "approve-send-at", 10).await;
    b.wait_seen("approve-button", "the send-later label", |s| {
        s.text.contains("send at that time")
    })
    .await;
    b.click("approve-button").await;
    let route = b
        .wait_route("the message page", |r| r.starts_with("/messages/"))
        .await;
    let message: i64 = route.trim_start_matches("/messages/").parse().unwrap();

    // It is on the calendar (this week, or the next when that is ten minutes away).
    b.click("nav-calendar").await;
    b.find("calendar-week").await;
    let entry = format!("calendar-send-{message}");
    // The week is drawn once its read came back: seven days.
    eventually("the week drawn", PATIENCE, || async {
        match b.count(".week .day").await {
            7 => Ok(()),
            n => Err(format!("{n} days")),
        }
    })
    .await;
    if b.count(&tid(&entry)).await == 0 {
        b.click("calendar-next").await;
    }
    let seen = b
        .wait_seen(&entry, "scheduled", |s| {
            s.state.as_deref() == Some("waiting")
        })
        .await;
    assert!(seen.text.contains("Scheduled"), "{}", seen.text);
    b.shot("scheduled").await;
    let found = b.axe(&axe, None).await;
    assert!(found.is_empty(), "{found:#?}");
    b.click(&format!("calendar-cancel-send-{message}")).await;
    b.wait_seen("confirm-dialog", "the cancel dialog", |s| {
        s.text.contains("will not go out")
    })
    .await;
    b.click("confirm-ok").await;
    b.wait_seen(&entry, "cancelled", |s| {
        s.state.as_deref() == Some("cancelled") && s.text.contains("Cancelled")
    })
    .await;
    b.shot("cancelled").await;

    // Repeat a sent message every hour for the next five hours, from its page.
    b.goto(&format!("#/messages/{repeated}")).await;
    b.find("repeat-form").await;
    b.client
        .find(Locator::Css(r#"[data-testid="repeat-form"] summary"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find("repeat-every")
        .await
        .select_by_value("60")
        .await
        .unwrap();
    set_local_time(&b, "repeat-until", 5 * 60).await;
    b.click("repeat-button").await;
    b.wait_seen("repeat-status", "repeating", |s| {
        s.text.contains("every hour")
    })
    .await;
    b.click("repeat-calendar-link").await;
    let runs = format!("calendar-repeat-{repeated}");
    b.find("calendar-week").await;
    eventually("the repeat's runs", PATIENCE, || async {
        let here = b.count(&tid(&runs)).await;
        if here > 0 {
            return Ok(());
        }
        Err("no run this week".to_string())
    })
    .await;
    // One Stop button per repeat, on its first run this week, however many runs show.
    assert_eq!(
        b.count(r#"[data-testid^="calendar-stop-repeat-"]"#).await,
        1
    );
    let stop = b
        .client
        .find(Locator::Css(r#"[data-testid^="calendar-stop-repeat-"]"#))
        .await
        .unwrap();
    b.shot("repeating").await;
    stop.click().await.unwrap();
    b.click("confirm-ok").await;
    b.wait_gone(&runs).await;
    b.shot("repeat-stopped").await;
    b.assert_no_page_errors().await;
    b.close().await;
}

/// Keyboard shortcuts: `?` lists them, `n` goes to the playbook search, `q` to the
/// approval queue, and `a` approves the open draft through its own button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_shortcuts_list_themselves_and_reach_the_search_the_queue_and_approval() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let alex = world.add("alex", Role::Approver).await;
    let dana = world.add("dana", Role::Drafter).await;
    let draft = submit_through_api(&world, ("dana", &dana)).await;
    let draft_id = draft["id"].as_i64().unwrap();
    let shots = Shots::new("shortcuts");
    let b = Browser::open(
        "alex",
        driver.session(1280, 900).await,
        &world.harness.url(),
        &shots,
    );
    b.sign_in("alex", &alex).await;
    b.find("playbook-list").await;
    let press = |key: &'static str| {
        let b = &b;
        async move {
            b.client
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .send_keys(key)
                .await
                .unwrap();
        }
    };
    press("?").await;
    let list = b
        .wait_seen("shortcuts-dialog", "the shortcut list", |s| s.displayed)
        .await;
    for key in ["n", "q", "a", "?"] {
        assert!(
            list.text.lines().any(|l| l.starts_with(key)),
            "{key}: {}",
            list.text
        );
    }
    b.shot("shortcuts").await;
    b.click("shortcuts-close").await;
    b.wait_gone("shortcuts-dialog").await;

    b.goto(&format!("#/drafts/{draft_id}")).await;
    b.find("approve-button").await;
    press("q").await;
    b.wait_route("home", |r| r == "/").await;
    let focused = eventually("the queue focused", PATIENCE, || async {
        let inside: bool = serde_json::from_value(
            b.client
                .execute(
                    "const q = document.querySelector('[data-testid=drafts-submitted]'); \
                     return !!q && q.contains(document.activeElement);",
                    vec![],
                )
                .await
                .unwrap(),
        )
        .unwrap();
        if inside {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    let () = focused;
    press("n").await;
    eventually("the search focused", PATIENCE, || async {
        let id: Value = b
            .client
            .execute(
                "return document.activeElement && document.activeElement.dataset.testid;",
                vec![],
            )
            .await
            .unwrap();
        if id == json!("playbook-search") {
            Ok(())
        } else {
            Err(format!("{id}"))
        }
    })
    .await;
    // Typing into the search is typing, not a shortcut.
    b.client
        .find(Locator::Css(&tid("playbook-search")))
        .await
        .unwrap()
        .send_keys("q")
        .await
        .unwrap();
    assert_eq!(b.route().await, "/");

    b.goto(&format!("#/drafts/{draft_id}")).await;
    b.find("approve-button").await;
    b.client
        .execute(
            "document.activeElement && document.activeElement.blur(); return true;",
            vec![],
        )
        .await
        .unwrap();
    press("a").await;
    // Approved: the approver goes to the message's delivery grid, as after a click.
    b.wait_route("the message", |r| r.starts_with("/messages/"))
        .await;
    b.find("delivery-grid").await;
    b.assert_no_page_errors().await;
    b.close().await;
}

/// In the page, records what the panel would notify and play instead of doing it:
/// headless Chromium has no notification UI, and the stubs count permission requests,
/// notifications and beeps (oscillators started).
async fn stub_notifications(b: &Browser) {
    b.client
        .execute(
            "window.__notes = []; window.__asked = 0; window.__beeps = 0; \
             window.Notification = class { \
               constructor(title, opts) { window.__notes.push({title, body: (opts || {}).body}); } \
               close() {} \
               static requestPermission() { window.__asked += 1; \
                 window.Notification.permission = 'granted'; return Promise.resolve('granted'); } \
             }; \
             window.Notification.permission = 'default'; \
             const noop = () => {}; \
             window.AudioContext = class { \
               constructor() { this.state = 'running'; this.currentTime = 0; this.destination = {}; } \
               resume() { return Promise.resolve(); } \
               createOscillator() { return { type: '', frequency: { setValueAtTime: noop }, \
                 connect: (g) => g, start: () => { window.__beeps += 1; }, stop: noop }; } \
               createGain() { return { gain: { setValueAtTime: noop, exponentialRampToValueAtTime: noop }, \
                 connect: (d) => d }; } \
             }; return true;",
            vec![],
        )
        .await
        .unwrap();
}

/// Creates and submits a boil-water draft from the example values, through the API as
/// the signed-in person of this browser; returns its id.
async fn submit_from_browser(b: &Browser) -> i64 {
    let id = b
        .client
        .execute(
            "return (async () => { \
             const call = async (method, path, body) => { \
               const r = await fetch(path, {method, credentials: 'same-origin', \
                 headers: {'Content-Type': 'application/json', Accept: 'application/json'}, \
                 body: body === undefined ? undefined : JSON.stringify(body)}); \
               const text = await r.text(); \
               if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`); \
               return JSON.parse(text); }; \
             const pb = await call('GET', '/api/playbooks/boil-water'); \
             const values = {}; \
             for (const v of pb.variables) { const x = v.example ?? v.default; if (x != null) values[v.name] = x; } \
             const d = await call('POST', '/api/drafts', {playbook: 'boil-water', step: 'alert', values, exercise: false}); \
             await call('POST', `/api/drafts/${d.id}/submit`, {}); \
             return d.id; })();",
            vec![],
        )
        .await
        .unwrap();
    id.as_i64()
        .unwrap_or_else(|| panic!("{}: no draft id: {id}", b.who))
}

async fn title(b: &Browser) -> String {
    b.client.title().await.unwrap()
}

async fn wait_title(b: &Browser, want: &str) {
    eventually(&format!("{}: title {want:?}", b.who), PATIENCE, || async {
        let t = title(b).await;
        if t == want {
            Ok(())
        } else {
            Err(format!("{t:?}"))
        }
    })
    .await;
}

/// Where an element is drawn, in CSS pixels.
#[derive(Debug, serde::Deserialize)]
struct Rect {
    top: f64,
    bottom: f64,
    left: f64,
    right: f64,
}

/// The boxes of the "Awaiting approval" section and of the playbook list.
async fn queue_and_playbooks(b: &Browser) -> (Rect, Rect) {
    let rects = b
        .client
        .execute(
            "const r = (id) => document.querySelector(`[data-testid=\"${id}\"]`).getBoundingClientRect(); \
             return [r('drafts-submitted'), r('playbook-list')].map((x) => \
               ({top: x.top, bottom: x.bottom, left: x.left, right: x.right}));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(rects).unwrap()
}

async fn page_number(b: &Browser, script: &str) -> i64 {
    b.client
        .execute(script, vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approver_sees_the_waiting_count_in_the_title_and_is_notified_once_opted_in() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let shots = Shots::new("approver_notified");
    let base = world.harness.url();
    let dana = world.add("dana", Role::Drafter).await;
    let alex = world.add("alex", Role::Approver).await;
    // The approver on a tablet, the drafter on a laptop.
    let (a, b) = tokio::join!(driver.session(1280, 800), driver.session(820, 1180));
    let drafter = Browser::open("drafter", a, &base, &shots);
    let approver = Browser::open("approver", b, &base, &shots);
    drafter.sign_in("dana", &dana).await;
    approver.sign_in("alex", &alex).await;
    stub_notifications(&approver).await;
    mark_page(&approver).await;

    // Nothing waits: the plain title. On a tablet the queue comes before the playbooks.
    approver.find("drafts-submitted-list").await;
    approver.find("playbook-boil-water").await;
    wait_title(&approver, "Tocsin control panel").await;
    let (queue, list) = queue_and_playbooks(&approver).await;
    assert!(
        queue.bottom <= list.top,
        "on a tablet the queue comes above the playbook list: {queue:?} {list:?}"
    );
    approver.shot("approver-tablet-queue-first").await;
    drafter.find("drafts-submitted-list").await;
    let (queue, list) = queue_and_playbooks(&drafter).await;
    assert!(
        queue.left >= list.right,
        "on a laptop the queue stays beside the playbook list: {queue:?} {list:?}"
    );

    // A draft is submitted before the approver opts in: the title counts it, but there is
    // no notification and no sound.
    let first = submit_from_browser(&drafter).await;
    wait_title(&approver, "(1) Tocsin control panel").await;
    approver
        .wait_seen(&format!("draft-item-{first}"), "in the queue", |_| true)
        .await;
    approver.shot("approver-one-waiting").await;
    assert_eq!(
        page_number(&approver, "return window.__notes.length;").await,
        0
    );
    assert_eq!(page_number(&approver, "return window.__beeps;").await, 0);
    // The drafter cannot approve: their title has no count.
    assert_eq!(title(&drafter).await, "Tocsin control panel");

    // The approver opts in on their account page: the permission is asked then, once.
    approver.goto("#/account").await;
    let status = approver
        .wait_seen("notify-status", "off", |s| {
            s.state.as_deref() == Some("off")
        })
        .await;
    assert!(status.text.starts_with("Off"), "{status:?}");
    assert_eq!(page_number(&approver, "return window.__asked;").await, 0);
    approver.click("notify-optin").await;
    approver
        .wait_seen("notify-status", "on with notifications", |s| {
            s.state.as_deref() == Some("granted")
        })
        .await;
    assert_eq!(page_number(&approver, "return window.__asked;").await, 1);
    approver
        .shot_at("account-notify", "approver-opted-in")
        .await;
    // The title keeps the count on every screen.
    assert_eq!(title(&approver).await, "(1) Tocsin control panel");

    // The next submission notifies and beeps.
    approver.goto("#/").await;
    let second = submit_from_browser(&drafter).await;
    wait_title(&approver, "(2) Tocsin control panel").await;
    let notes = eventually("approver: one notification", PATIENCE, || async {
        let notes = approver
            .client
            .execute("return window.__notes;", vec![])
            .await
            .unwrap();
        match notes.as_array() {
            Some(n) if n.len() == 1 => Ok(n.clone()),
            _ => Err(format!("{notes}")),
        }
    })
    .await;
    assert_eq!(notes[0]["title"], "A draft waits for approval");
    let body = notes[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Boil-water advisory · Initial advisory") && body.contains("dana"),
        "{body}"
    );
    assert!(page_number(&approver, "return window.__beeps;").await >= 1);
    approver
        .wait_seen(&format!("draft-item-{second}"), "in the queue", |_| true)
        .await;
    approver.shot("approver-two-waiting").await;

    // A withdrawn draft leaves the count.
    let withdrawn = drafter
        .client
        .execute(
            "const id = arguments[0]; return (async () => { \
             const r = await fetch(`/api/drafts/${id}/withdraw`, {method: 'POST', \
               credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: '{}'}); \
             return r.status; })();",
            vec![json!(first)],
        )
        .await
        .unwrap();
    assert_eq!(withdrawn, json!(200), "withdraw the first draft");
    wait_title(&approver, "(1) Tocsin control panel").await;
    // The opt-in is kept for the next visit of this person in this browser.
    let kept = approver
        .client
        .execute("return localStorage.getItem('tocsin.notify.alex');", vec![])
        .await
        .unwrap();
    assert_eq!(kept, json!("on"));
    assert_eq!(
        page_number(&approver, "return window.__notes.length;").await,
        1
    );

    assert_not_reloaded(&approver).await;
    approver.assert_no_page_errors().await;
    drafter.assert_no_page_errors().await;
    approver.close().await;
    drafter.close().await;
}

/// On a phone (375×667, an iPhone SE's viewport), the sign-in page and the alerts page fit
/// without scrolling sideways, and the sign-in fields are full-width targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_signs_in_without_scrolling_sideways() {
    let driver = Chromedriver::start().await;
    let world = World::start().await;
    let alex = world.add("alex", Role::Approver).await;
    let shots = Shots::new("phone");
    let phone = Browser::open(
        "phone",
        driver.phone_session(375, 667).await,
        &world.harness.url(),
        &shots,
    );
    phone.goto("#/signin").await;
    phone.find("signin-name").await;
    let width = phone
        .client
        .execute("return document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().is_some_and(|w| w <= 375),
        "a phone's width: {width}"
    );
    assert_no_sideways_scroll(&phone, "sign-in").await;
    phone.shot("sign-in").await;
    phone.sign_in("alex", &alex).await;
    phone.find("playbook-list").await;
    assert_no_sideways_scroll(&phone, "alerts home").await;
    phone.shot("alerts").await;
    phone.assert_no_page_errors().await;
    phone.close().await;
}

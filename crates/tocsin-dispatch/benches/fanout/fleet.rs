//! The fake platforms a fan-out benchmark sends to: a fleet of fake servers (Mastodon
//! only, or every platform Tocsin speaks), each answering after a fixed latency, and how
//! an account on each is configured. The fleet runs in this process or in a child process
//! (this benchmark binary again, with `--fakes-child`), which prints its endpoints as JSON
//! lines and then answers `posts` and `rate-limit N` lines on stdin until stdin closes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tocsin_domain::Platform;
use tocsin_test_support::webhook::{FakeSubscriber, Verifier};
use tocsin_test_support::{
    bluesky, discord, facebook, linkedin, mastodon, matrix, slack, smtp, teams, telegram, threads,
    twilio, x, FakeServer, Fault,
};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Every platform with a fake server, in the order accounts are dealt to them.
pub const ALL_PLATFORMS: [Platform; 14] = [
    Platform::Mastodon,
    Platform::Bluesky,
    Platform::X,
    Platform::Facebook,
    Platform::Threads,
    Platform::Linkedin,
    Platform::Telegram,
    Platform::Discord,
    Platform::Slack,
    Platform::Teams,
    Platform::Sms,
    Platform::Matrix,
    Platform::Webhook,
    Platform::Email,
];

const MATRIX_USER: &str = "@tocsin:fake.example";
const MATRIX_TOKEN: &str = "syt_fake_matrix_bench_token";
const MATRIX_ROOM: &str = "!alerts:fake.example";

/// How an account on one fake server is configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// The platform's name (`Platform::as_str`).
    pub platform: String,
    /// The account's settings.
    pub settings: Value,
    /// The account's secret.
    pub secret: String,
    /// The host the dispatcher bounds concurrency by.
    pub host: String,
}

/// One running fake.
enum Fake {
    Mastodon(mastodon::FakeMastodon),
    Bluesky(bluesky::FakeBluesky),
    X(x::FakeX),
    Facebook(facebook::FakeFacebook),
    Threads(threads::FakeThreads),
    Linkedin(linkedin::FakeLinkedin),
    Telegram(telegram::FakeTelegram),
    Discord(discord::FakeDiscord),
    Slack(slack::FakeSlack),
    Teams(teams::FakeTeams),
    Sms(twilio::FakeTwilio),
    Matrix(matrix::FakeMatrix),
    Webhook(FakeSubscriber),
    Email(smtp::FakeSmtp),
}

impl Fake {
    /// The HTTP server behind it (none for SMTP).
    fn http(&self) -> Option<&FakeServer> {
        Some(match self {
            Fake::Mastodon(f) => f,
            Fake::Bluesky(f) => f,
            Fake::X(f) => f,
            Fake::Facebook(f) => f,
            Fake::Threads(f) => f,
            Fake::Linkedin(f) => f,
            Fake::Telegram(f) => f,
            Fake::Discord(f) => f,
            Fake::Slack(f) => f,
            Fake::Teams(f) => f,
            Fake::Sms(f) => f,
            Fake::Matrix(f) => &f.server,
            Fake::Webhook(f) => &f.server,
            Fake::Email(_) => return None,
        })
    }

    /// Posts (messages, records, cards, mails) it accepted.
    fn posts(&self) -> usize {
        match self {
            Fake::Mastodon(f) => f.statuses().len(),
            Fake::Bluesky(f) => f.records().len(),
            Fake::X(f) => f.tweets().len(),
            Fake::Facebook(f) => f.posts().len(),
            Fake::Threads(f) => f.published().len(),
            Fake::Linkedin(f) => f.posts().len(),
            Fake::Telegram(f) => f.messages().len(),
            Fake::Discord(f) => f.messages().len(),
            Fake::Slack(f) => f.messages().len(),
            Fake::Teams(f) => f.cards().len(),
            Fake::Sms(f) => f.messages().len(),
            Fake::Matrix(f) => f.homeserver.messages(MATRIX_ROOM).len(),
            Fake::Webhook(f) => f.subscriber.deliveries().len(),
            Fake::Email(f) => f.state.accepted().len(),
        }
    }

    async fn start(platform: Platform, latency: Duration) -> std::io::Result<(Fake, Endpoint)> {
        let endpoint = |settings: Value, secret: &str, base: &str| Endpoint {
            platform: platform.as_str().to_string(),
            settings,
            secret: secret.to_string(),
            host: base.to_string(),
        };
        let (fake, endpoint) = match platform {
            Platform::Mastodon => {
                let f = mastodon::start().await?;
                f.set_rate_limit_remaining(u64::MAX / 2);
                let e = endpoint(
                    json!({ "base_url": f.base_url }),
                    mastodon::TOKEN,
                    &f.base_url,
                );
                (Fake::Mastodon(f), e)
            }
            Platform::Bluesky => {
                let f = bluesky::start().await?;
                f.set_rate_limit_remaining(u64::MAX / 2);
                let e = endpoint(
                    json!({ "service": f.base_url, "handle": bluesky::HANDLE }),
                    bluesky::APP_PASSWORD,
                    &f.base_url,
                );
                (Fake::Bluesky(f), e)
            }
            Platform::X => {
                let f = x::start().await?;
                // One fake server stands for many accounts posting the same text.
                f.allow_duplicates();
                f.set_rate_limit_remaining(u64::MAX / 2);
                let e = endpoint(
                    json!({ "base_url": f.base_url, "username": x::USERNAME }),
                    x::TOKEN,
                    &f.base_url,
                );
                (Fake::X(f), e)
            }
            Platform::Facebook => {
                let f = facebook::start().await?;
                // One fake server stands for many accounts posting the same text.
                f.allow_duplicates();
                let e = endpoint(
                    json!({ "base_url": f.base_url, "page_id": facebook::PAGE_ID }),
                    facebook::TOKEN,
                    &f.base_url,
                );
                (Fake::Facebook(f), e)
            }
            Platform::Threads => {
                let f = threads::start().await?;
                f.set_quota_left(u64::MAX / 2);
                let e = endpoint(
                    json!({ "base_url": f.api_url(), "user_id": threads::USER_ID }),
                    threads::TOKEN,
                    &f.base_url,
                );
                (Fake::Threads(f), e)
            }
            Platform::Linkedin => {
                let f = linkedin::start().await?;
                // One fake server stands for many accounts posting the same text.
                f.allow_duplicates();
                let e = endpoint(
                    json!({ "base_url": f.base_url, "organization_id": linkedin::ORGANIZATION_ID }),
                    linkedin::TOKEN,
                    &f.base_url,
                );
                (Fake::Linkedin(f), e)
            }
            Platform::Telegram => {
                let f = telegram::start().await?;
                let e = endpoint(
                    json!({ "chat_id": format!("@{}", telegram::CHAT_USERNAME), "api_url": f.base_url }),
                    telegram::TOKEN,
                    &f.base_url,
                );
                (Fake::Telegram(f), e)
            }
            Platform::Discord => {
                let f = discord::start().await?;
                let e = endpoint(
                    json!({ "guild_id": discord::GUILD_ID }),
                    &f.webhook_url(),
                    &f.base_url,
                );
                (Fake::Discord(f), e)
            }
            Platform::Slack => {
                let f = slack::start().await?;
                let e = endpoint(
                    json!({ "channel": slack::CHANNEL, "api_url": f.base_url }),
                    slack::TOKEN,
                    &f.base_url,
                );
                (Fake::Slack(f), e)
            }
            Platform::Teams => {
                let f = teams::start().await?;
                let e = endpoint(json!({}), &f.webhook_url(), &f.base_url);
                (Fake::Teams(f), e)
            }
            Platform::Sms => {
                let f = twilio::start().await?;
                let e = endpoint(
                    json!({ "account_sid": twilio::ACCOUNT_SID, "from": twilio::FROM,
                            "to": ["+15551230001"], "api_url": f.base_url }),
                    twilio::AUTH_TOKEN,
                    &f.base_url,
                );
                (Fake::Sms(f), e)
            }
            Platform::Matrix => {
                let f =
                    matrix::FakeMatrix::start(MATRIX_USER, MATRIX_TOKEN, &[MATRIX_ROOM]).await?;
                let e = endpoint(
                    json!({ "homeserver": f.server.base_url, "room_id": MATRIX_ROOM }),
                    MATRIX_TOKEN,
                    &f.server.base_url,
                );
                (Fake::Matrix(f), e)
            }
            Platform::Webhook => {
                // Signatures are checked by the connector's own tests; here every
                // delivery is accepted, so the fake's CPU stays small.
                let accept_all: Verifier = Arc::new(|_, _| Ok(()));
                let f = FakeSubscriber::start(accept_all).await?;
                let e = endpoint(
                    json!({ "url": f.url() }),
                    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                    &f.server.base_url,
                );
                (Fake::Webhook(f), e)
            }
            Platform::Email => {
                let f = smtp::FakeSmtp::start().await?;
                f.state.set_latency(latency);
                let e = endpoint(
                    json!({ "smtp_host": "127.0.0.1", "smtp_port": f.port(), "tls": "none",
                            "from": "County Health <alerts@health.example>",
                            "to": ["residents@lists.example"] }),
                    "",
                    &format!("smtp://127.0.0.1:{}", f.port()),
                );
                (Fake::Email(f), e)
            }
            other => {
                return Err(std::io::Error::other(format!(
                    "no fake server for {}",
                    other.as_str()
                )))
            }
        };
        if let Some(http) = fake.http() {
            http.state.plan(|p| p.latency = latency);
        }
        Ok((fake, endpoint))
    }
}

/// Fake servers running in this process.
pub struct Fleet {
    fakes: Vec<Fake>,
    /// One per server, in the order accounts are dealt to them.
    pub endpoints: Vec<Endpoint>,
}

impl Fleet {
    /// `servers` servers of each platform, answering after `latency`.
    pub async fn start(
        platforms: &[Platform],
        servers: usize,
        latency: Duration,
    ) -> std::io::Result<Fleet> {
        let mut fleet = Fleet {
            fakes: Vec::new(),
            endpoints: Vec::new(),
        };
        for _ in 0..servers.max(1) {
            for p in platforms {
                let (fake, endpoint) = Fake::start(*p, latency).await?;
                fleet.fakes.push(fake);
                fleet.endpoints.push(endpoint);
            }
        }
        Ok(fleet)
    }

    /// Posts accepted by every server together.
    pub fn posts(&self) -> usize {
        self.fakes.iter().map(Fake::posts).sum()
    }

    /// The next `n` posts (dealt over the HTTP servers) answer 429 with `Retry-After: 1`.
    pub fn rate_limit(&self, n: usize) {
        let http: Vec<&FakeServer> = self.fakes.iter().filter_map(Fake::http).collect();
        if http.is_empty() {
            return;
        }
        for k in 0..n {
            if let Some(server) = http.get(k % http.len()) {
                server.state.push_fault(Fault::rate_limited(1));
            }
        }
    }
}

/// The fleet as the benchmark drives it: here, or in a child process.
pub enum FleetHandle {
    /// In this process: its CPU counts against Tocsin's.
    Here(Fleet),
    /// In a child process (same machine, same cores, but not Tocsin's process).
    Child {
        /// The child (boxed: it is much larger than the other variant).
        child: Box<Child>,
        /// Commands to it.
        stdin: ChildStdin,
        /// Its answers.
        lines: Lines<BufReader<ChildStdout>>,
        /// Its servers.
        endpoints: Vec<Endpoint>,
    },
}

impl FleetHandle {
    /// Starts the fleet in a child process: this binary with `--fakes-child`.
    pub async fn spawn(
        platforms: &str,
        servers: usize,
        latency_ms: u64,
    ) -> std::io::Result<FleetHandle> {
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(exe)
            .args([
                "--fakes-child",
                "--platforms",
                platforms,
                "--servers",
                &servers.to_string(),
                "--latency-ms",
                &latency_ms.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut endpoints = Vec::new();
        loop {
            let Some(line) = lines.next_line().await? else {
                return Err(std::io::Error::other("the fakes' process ended early"));
            };
            if line == "ready" {
                break;
            }
            endpoints.push(serde_json::from_str(&line).map_err(std::io::Error::other)?);
        }
        Ok(FleetHandle::Child {
            child: Box::new(child),
            stdin,
            lines,
            endpoints,
        })
    }

    /// The servers, in the order accounts are dealt to them.
    pub fn endpoints(&self) -> &[Endpoint] {
        match self {
            FleetHandle::Here(f) => &f.endpoints,
            FleetHandle::Child { endpoints, .. } => endpoints,
        }
    }

    async fn ask(&mut self, command: String) -> std::io::Result<String> {
        match self {
            FleetHandle::Here(_) => Ok(String::new()),
            FleetHandle::Child { stdin, lines, .. } => {
                stdin.write_all(command.as_bytes()).await?;
                stdin.write_all(b"\n").await?;
                stdin.flush().await?;
                lines
                    .next_line()
                    .await?
                    .ok_or_else(|| std::io::Error::other("the fakes' process ended"))
            }
        }
    }

    /// Posts accepted by every server together.
    pub async fn posts(&mut self) -> std::io::Result<usize> {
        if let FleetHandle::Here(f) = self {
            return Ok(f.posts());
        }
        let answer = self.ask("posts".into()).await?;
        answer.trim().parse().map_err(std::io::Error::other)
    }

    /// The next `n` posts answer 429 with `Retry-After: 1`.
    pub async fn rate_limit(&mut self, n: usize) -> std::io::Result<()> {
        if let FleetHandle::Here(f) = self {
            f.rate_limit(n);
            return Ok(());
        }
        self.ask(format!("rate-limit {n}")).await.map(|_| ())
    }

    /// The child's process id, if the fleet runs in one.
    pub fn child_pid(&self) -> Option<u32> {
        match self {
            FleetHandle::Here(_) => None,
            FleetHandle::Child { child, .. } => child.id(),
        }
    }
}

/// Platforms named by `--platforms` (`mastodon`, `all`, or a comma-separated list).
pub fn platforms(names: &str) -> Result<Vec<Platform>, String> {
    if names == "all" {
        return Ok(ALL_PLATFORMS.to_vec());
    }
    names
        .split(',')
        .map(|n| {
            ALL_PLATFORMS
                .iter()
                .copied()
                .find(|p| p.as_str() == n.trim())
                .ok_or_else(|| format!("no fake server for platform {n}"))
        })
        .collect()
}

/// The child's side: starts the fleet, prints its endpoints and `ready`, then answers
/// commands until stdin closes.
pub async fn serve_child(platforms: &[Platform], servers: usize, latency: Duration) {
    let fleet = match Fleet::start(platforms, servers, latency).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fakes: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let mut out = tokio::io::stdout();
    let mut text = String::new();
    for e in &fleet.endpoints {
        text.push_str(&serde_json::to_string(e).unwrap_or_default());
        text.push('\n');
    }
    text.push_str("ready\n");
    let _ = out.write_all(text.as_bytes()).await;
    let _ = out.flush().await;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["posts"] => fleet.posts().to_string(),
            ["rate-limit", n] => {
                fleet.rate_limit(n.parse().unwrap_or(0));
                "ok".to_string()
            }
            _ => format!("unknown command {line}"),
        };
        let _ = out.write_all(format!("{answer}\n").as_bytes()).await;
        let _ = out.flush().await;
    }
}

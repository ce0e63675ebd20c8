//! `tocsin doctor [--json]`: why is it not working? Each check says in words what it found
//! and what to do: the configuration, the database and its schema, the key files and
//! their modes, the clock (TOTP codes fail when it drifts), every account's platform and
//! credentials, the TLS trust store (bundled and system roots, `[tls] extra_ca_files`),
//! the public URL and what the proxy in front forwards, and the disk.
//!
//! The exit code is 1 when any check failed (warnings do not fail), so a deployment
//! script or a monitoring probe can run it.

use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tocsin_app::accounts::AccountVault;
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_store::{schema_status, AccountStatus};

use crate::config::Config;
use crate::store::{block_on, open_store};

mod tls_trust;

/// How far the clock may drift before TOTP codes start to fail (one 30-second step).
const CLOCK_FAIL: Duration = Duration::from_secs(30);
/// Drift worth a warning.
const CLOCK_WARN: Duration = Duration::from_secs(5);
/// How long one account's health check may take.
const ACCOUNT_PATIENCE: Duration = Duration::from_secs(15);
/// Free space below which the data directory fails the check, and warns.
const DISK_FAIL: u64 = 100 * 1024 * 1024;
const DISK_WARN: u64 = 1024 * 1024 * 1024;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Debug, Serialize)]
struct Finding {
    check: String,
    status: Status,
    detail: String,
}

#[derive(Default)]
struct Findings(Vec<Finding>, Option<tls_trust::TrustReport>);

impl Findings {
    fn add(&mut self, check: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.0.push(Finding {
            check: check.into(),
            status,
            detail: detail.into(),
        });
    }

    fn failed(&self) -> bool {
        self.0.iter().any(|f| f.status == Status::Fail)
    }
}

/// Runs `tocsin doctor`. It loads the configuration itself, so that a broken one is a
/// finding, not an error before any check.
pub fn run(config_path: Option<&Path>, json: bool) -> Result<ExitCode> {
    let mut findings = Findings::default();
    match Config::load(config_path) {
        Ok(config) => {
            findings.add(
                "config",
                Status::Ok,
                "loaded (file and TOCSIN_* environment)",
            );
            block_on(check_all(&config, &mut findings))?;
        }
        Err(e) => findings.add(
            "config",
            Status::Fail,
            format!("{e:#}; nothing else can be checked until it loads"),
        ),
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": !findings.failed(),
                "checks": findings.0,
                "tls": findings.1,
            }))?
        );
    } else {
        for f in &findings.0 {
            let mark = match f.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            println!("{mark} {}: {}", f.check, f.detail);
        }
        let (fails, warns) = findings.0.iter().fold((0, 0), |(f, w), x| match x.status {
            Status::Fail => (f + 1, w),
            Status::Warn => (f, w + 1),
            Status::Ok => (f, w),
        });
        println!("{fails} failed, {warns} warning(s)");
    }
    Ok(if findings.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_all(config: &Config, findings: &mut Findings) {
    check_disk(&config.data_dir, findings);
    let database_ready = check_database(config, findings).await;
    check_audit_key(config, findings);
    check_tls(config, findings);
    let key = check_sealing_key(config, findings);
    let mut reference_clocks = Vec::new();
    if database_ready {
        check_accounts(config, key, findings, &mut reference_clocks).await;
    }
    check_public_url(config, findings, &mut reference_clocks).await;
    check_clock(config, findings, reference_clocks).await;
}

fn check_disk(data_dir: &Path, findings: &mut Findings) {
    let probe = if data_dir.exists() {
        data_dir
    } else {
        data_dir
            .parent()
            .filter(|p| p.exists())
            .unwrap_or(Path::new("."))
    };
    match rustix::fs::statvfs(probe) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            let text = format!(
                "{} free where {} lives",
                human_bytes(free),
                data_dir.display()
            );
            let status = if free < DISK_FAIL {
                Status::Fail
            } else if free < DISK_WARN {
                Status::Warn
            } else {
                Status::Ok
            };
            findings.add("disk", status, text);
        }
        Err(e) => findings.add(
            "disk",
            Status::Warn,
            format!("could not read free space at {}: {e}", probe.display()),
        ),
    }
}

fn human_bytes(n: u64) -> String {
    const GIB: u64 = 1024 * 1024 * 1024;
    if n >= GIB {
        format!("{:.1} GiB", n as f64 / GIB as f64)
    } else {
        format!("{} MiB", n / (1024 * 1024))
    }
}

/// Reachability and schema; true when the database can be opened as it is.
async fn check_database(config: &Config, findings: &mut Findings) -> bool {
    let url = tocsin_store::redact_url(&config.database.url);
    match schema_status(&config.database.url, &config.data_dir).await {
        Err(e) => {
            findings.add("database", Status::Fail, format!("{url}: {e}"));
            false
        }
        Ok(status) => {
            findings.add("database", Status::Ok, format!("{url} answers"));
            if status.too_new() {
                findings.add(
                    "schema",
                    Status::Fail,
                    format!(
                        "version {} was written by a newer release; this one knows {} and \
                         refuses it: run the newer release",
                        status.found.unwrap_or_default(),
                        status.known
                    ),
                );
                false
            } else if status.found.is_none() {
                findings.add(
                    "schema",
                    Status::Warn,
                    "a new, empty database: the first command that opens it creates the schema",
                );
                false
            } else if !status.pending.is_empty() {
                findings.add(
                    "schema",
                    Status::Warn,
                    format!(
                        "version {}, {} migration(s) behind this release: see `tocsin migrate \
                         --dry-run`",
                        status.found.unwrap_or_default(),
                        status.pending.len()
                    ),
                );
                true
            } else {
                findings.add(
                    "schema",
                    Status::Ok,
                    format!("version {}, this release's", status.known),
                );
                true
            }
        }
    }
}

/// The audit signing key: present, owner-only, and well-formed.
fn check_audit_key(config: &Config, findings: &mut Findings) {
    let path = config.data_dir.join(tocsin_audit::KEY_FILE_NAME);
    if !path.exists() {
        findings.add(
            "audit key",
            Status::Warn,
            format!(
                "{} does not exist yet: the first command that opens the store makes one; \
                 every node of one database needs the same key",
                path.display()
            ),
        );
        return;
    }
    match tocsin_audit::keyfile::load(&path, &config.audit.origin) {
        Ok(signer) => findings.add(
            "audit key",
            Status::Ok,
            format!(
                "{} (mode 600), public key {}",
                path.display(),
                signer.verifier()
            ),
        ),
        Err(e) => findings.add("audit key", Status::Fail, e.to_string()),
    }
}

/// The certificate authorities connectors trust: the counts of bundled and system roots,
/// and each extra CA file read as start-up reads it (a file it would refuse fails).
fn check_tls(config: &Config, findings: &mut Findings) {
    let now = chrono::Utc::now();
    let report = tls_trust::report(&config.tls.extra_ca_files, now);
    findings.add(
        "tls trust",
        Status::Ok,
        format!(
            "{} bundled roots, {} from the system store, {} extra CA file(s) ([tls] \
             extra_ca_files)",
            report.bundled_roots,
            report.system_roots,
            report.extra_ca_files.len()
        ),
    );
    for file in &report.extra_ca_files {
        let check = "tls ca file";
        if let Some(error) = &file.error {
            findings.add(
                check,
                Status::Fail,
                format!("{error}: the server refuses to start with it"),
            );
            continue;
        }
        let mut detail = format!(
            "{}: {} certificate(s)",
            file.path.display(),
            file.certificates
        );
        for e in &file.expiring {
            let days = (e.not_after - now).num_days();
            let when = e.not_after.format("%Y-%m-%d");
            if e.expired {
                detail.push_str(&format!(
                    "; {} EXPIRED on {when}: replace it (chains it signed are likely expired \
                     too)",
                    e.subject
                ));
            } else {
                detail.push_str(&format!(
                    "; {} expires on {when} (in {days} day(s)): renew it",
                    e.subject
                ));
            }
        }
        let status = if file.expiring.is_empty() {
            Status::Ok
        } else {
            Status::Warn
        };
        findings.add(check, status, detail);
    }
    findings.1 = Some(report);
}

/// The sealing key for platform secrets and second factors.
fn check_sealing_key(
    config: &Config,
    findings: &mut Findings,
) -> Option<tocsin_app::people::SealingKey> {
    match crate::commands::users::load_key(config) {
        Ok(key) => {
            let credential = crate::commands::users::key_credential();
            let source = if config.env_keys.key.is_some() {
                "from TOCSIN_SECRET_KEY".to_string()
            } else if let Some(path) = credential {
                format!("from the systemd credential {}", path.display())
            } else {
                match &config.secrets.key_file {
                    Some(f) => format!("from {} (mode 600)", config.data_dir.join(f).display()),
                    None => "configured".to_string(),
                }
            };
            findings.add("sealing key", Status::Ok, source);
            Some(key)
        }
        Err(e) => {
            findings.add(
                "sealing key",
                Status::Warn,
                format!(
                    "{e:#}: accounts with secrets and second factors cannot be used; see the \
                     README's \"People\""
                ),
            );
            None
        }
    }
}

/// Each enabled account's platform answers and takes its credentials.
async fn check_accounts(
    config: &Config,
    key: Option<tocsin_app::people::SealingKey>,
    findings: &mut Findings,
    reference_clocks: &mut Vec<String>,
) {
    let store = match open_store(config).await {
        Ok(s) => s,
        Err(e) => {
            findings.add("accounts", Status::Fail, format!("{e:#}"));
            return;
        }
    };
    findings.add(
        "installation",
        Status::Ok,
        format!(
            "id {} (carried in idempotency keys; a restored copy gets its own)",
            store.installation_id()
        ),
    );
    let records = store.accounts().records().await;
    check_records(&store, records, key, findings, reference_clocks).await;
    store.close().await;
}

/// Tries each stored account against its platform; an unchecked one that passes loses
/// its mark (`account.checked`, by the operator running doctor).
async fn check_records(
    store: &tocsin_store::Store,
    records: Result<Vec<tocsin_store::AccountRecord>, tocsin_store::StoreError>,
    key: Option<tocsin_app::people::SealingKey>,
    findings: &mut Findings,
    reference_clocks: &mut Vec<String>,
) {
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            findings.add("accounts", Status::Fail, e.to_string());
            return;
        }
    };
    if records.is_empty() {
        findings.add(
            "accounts",
            Status::Warn,
            "none connected: `tocsin accounts add` (or the admin page) connects one",
        );
        return;
    }
    let Some(key) = key else {
        findings.add(
            "accounts",
            Status::Warn,
            format!(
                "{} account(s), not checked: without the sealing key their secrets do not open",
                records.len()
            ),
        );
        return;
    };
    let vault = AccountVault::new(Arc::new(key), Arc::new(SandboxLog::default()));
    for record in records {
        let name = format!(
            "account {} ({} {})",
            record.id,
            record.platform.display_name(),
            record.handle
        );
        if record.status == AccountStatus::Disabled {
            findings.add(name, Status::Ok, "disabled: not checked");
            continue;
        }
        let route = match vault.route(&record) {
            Ok(route) => route,
            Err(why) => {
                findings.add(name, Status::Fail, format!("not connected: {why}"));
                continue;
            }
        };
        if record.sandbox {
            findings.add(
                name,
                Status::Ok,
                "sandbox: records locally, nothing to reach",
            );
            continue;
        }
        reference_clocks.push(format!("https://{}/", route.host));
        let actor = crate::commands::users::operator_name();
        match tokio::time::timeout(ACCOUNT_PATIENCE, vault.check_stored(store, &actor, &record))
            .await
        {
            Ok(Ok(())) => findings.add(
                name,
                Status::Ok,
                if record.unchecked {
                    format!(
                        "{} answers and takes the credentials (no longer unchecked)",
                        route.host
                    )
                } else {
                    format!("{} answers and takes the credentials", route.host)
                },
            ),
            Ok(Err(e)) => findings.add(name, Status::Fail, e.to_string()),
            Err(_) => findings.add(
                name,
                Status::Fail,
                format!(
                    "{} did not answer within {} s",
                    route.host,
                    ACCOUNT_PATIENCE.as_secs()
                ),
            ),
        }
    }
}

/// The public URL answers, and the proxy in front forwards what Tocsin needs.
async fn check_public_url(
    config: &Config,
    findings: &mut Findings,
    reference_clocks: &mut Vec<String>,
) {
    let public = config.server.public_url.trim().trim_end_matches('/');
    if public.is_empty() {
        findings.add(
            "public url",
            Status::Warn,
            "[server] public_url is not set: feed links are relative and cookies are not \
             marked Secure; set it to the address people use (https://...)",
        );
        return;
    }
    reference_clocks.push(format!("{public}/healthz"));
    let url = format!("{public}/diagnostics/request");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            findings.add("public url", Status::Fail, e.to_string());
            return;
        }
    };
    let seen = match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            r.json::<tocsin_web::server::diagnostics::RequestSeen>()
                .await
        }
        Ok(r) => {
            findings.add(
                "public url",
                Status::Fail,
                format!(
                    "{url} answered {}: is Tocsin behind that address?",
                    r.status()
                ),
            );
            return;
        }
        Err(e) => {
            findings.add(
                "public url",
                Status::Fail,
                format!(
                    "{url}: {}",
                    tocsin_connector::http::printable(&e.to_string())
                ),
            );
            return;
        }
    };
    let seen = match seen {
        Ok(s) => s,
        Err(e) => {
            findings.add(
                "public url",
                Status::Fail,
                format!("{url}: not Tocsin's answer ({e})"),
            );
            return;
        }
    };
    findings.add(
        "public url",
        Status::Ok,
        format!(
            "{public} answers; this request was recorded as from {}",
            seen.client_address
        ),
    );
    let https = public.starts_with("https://");
    let (status, detail) = match (
        seen.forwarding_headers,
        seen.via_trusted_proxy,
        seen.forwarded_proto.as_deref(),
    ) {
        (true, false, _) => (
            Status::Fail,
            "the proxy sends X-Forwarded-For but its address is not in [server] \
             trusted_proxies: the sign-in throttle and the audit log see the proxy's address \
             for everyone"
                .to_string(),
        ),
        (false, true, _) => (
            Status::Fail,
            "the connection came from a trusted proxy that sent no X-Forwarded-For or \
             Forwarded header: every client looks the same"
                .to_string(),
        ),
        (true, true, Some("https")) | (true, true, None) if https => (
            Status::Ok,
            "a trusted proxy forwards the client's address".to_string(),
        ),
        (true, true, Some(proto)) => (
            Status::Warn,
            format!(
                "a trusted proxy forwards the client's address, and says the scheme was {proto}"
            ),
        ),
        (true, true, None) => (
            Status::Ok,
            "a trusted proxy forwards the client's address".to_string(),
        ),
        (false, false, _) if https => (
            Status::Warn,
            "no proxy headers arrived: fine if nothing stands between the public URL and \
             Tocsin, otherwise configure the proxy to send X-Forwarded-For"
                .to_string(),
        ),
        (false, false, _) => (
            Status::Ok,
            "no proxy in between; client addresses are the connections' own".to_string(),
        ),
    };
    findings.add("proxy headers", status, detail);
}

/// Compares this machine's clock with the `Date` of the database server (PostgreSQL) and
/// of the hosts checked above.
async fn check_clock(config: &Config, findings: &mut Findings, references: Vec<String>) {
    let mut readings: Vec<(String, chrono::DateTime<chrono::Utc>)> = Vec::new();
    if config.database.url.starts_with("postgres") {
        if let Ok(Some(t)) = tocsin_store::database_clock(&config.database.url).await {
            readings.push(("the database server".into(), t));
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build();
    if let Ok(client) = client {
        for url in references.iter().take(5) {
            let Ok(response) = client.head(url).send().await else {
                continue;
            };
            let date = response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok());
            if let Some(date) = date {
                readings.push((url.clone(), date.with_timezone(&chrono::Utc)));
            }
        }
    }
    let Some((source, skew)) = readings
        .iter()
        .map(|(source, t)| (source, (chrono::Utc::now() - *t).abs()))
        .max_by_key(|(_, skew)| *skew)
    else {
        findings.add(
            "clock",
            Status::Warn,
            "no other clock was reachable to compare with; keep NTP (systemd-timesyncd, \
             chrony) running: second-factor codes fail when the clock drifts 30 s",
        );
        return;
    };
    let seconds = skew.num_milliseconds() as f64 / 1000.0;
    let status = if skew.to_std().unwrap_or_default() >= CLOCK_FAIL {
        Status::Fail
    } else if skew.to_std().unwrap_or_default() >= CLOCK_WARN {
        Status::Warn
    } else {
        Status::Ok
    };
    findings.add(
        "clock",
        status,
        format!(
            "{seconds:.1} s from {source} (second-factor codes fail from 30 s; HTTP dates are \
             whole seconds)"
        ),
    );
}

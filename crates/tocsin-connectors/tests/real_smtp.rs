//! The email connector against a real SMTP server: aiosmtpd (PyPI), started on loopback
//! by `tocsin-test-support/real_servers/smtp_server.py`, storing what it accepts in a
//! Maildir. The fake SMTP server proves each failure path; this proves that what Tocsin
//! sends is what a real implementation accepts: AUTH after STARTTLS on a certificate from
//! a private CA made here (rcgen), recipients in the envelope only, one refused mailbox
//! among several, a thread's shared subject.
//!
//! Needs `python3` with `aiosmtpd` (`.ci/run` installs it); skips loudly without it unless
//! `TOCSIN_REAL_SERVERS=require`. `TOCSIN_PYTHON` names another interpreter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use secrecy::SecretString;
use serde_json::{json, Value};
use tocsin_connector::tls::TlsTrust;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost};
use tocsin_connectors::email::{message_id, EmailConfig, EmailConnector, SentMail};
use tocsin_test_support::real::smtp::{RealSmtp, SmtpOptions};
use tocsin_test_support::tls::{PrivateCa, Validity};

const USER: &str = "alerts";
const PASSWORD: &str = "canary-real-smtp-password-4711";

fn settings(smtp: &RealSmtp, tls: &str, user: Option<&str>) -> Value {
    let mut settings = json!({
        "smtp_host": "localhost",
        "smtp_port": smtp.port,
        "tls": tls,
        "from": "City Health <alerts@health.example>",
        "to": [
            "residents@lists.example",
            "Press Desk <press@health.example>",
            "gone@health.example",
        ],
        "timeout_secs": 10,
    });
    if let Some(user) = user {
        settings["username"] = json!(user);
    }
    settings
}

fn connector(settings: Value, password: Option<&str>) -> EmailConnector {
    let config = EmailConfig::from_settings(&settings).expect("valid settings");
    EmailConnector::new(config, password.map(|p| SecretString::from(p.to_string())))
        .expect("connector")
}

fn options(ca: &mut PrivateCa, validity: Validity) -> SmtpOptions {
    let leaf = ca.issue(&["localhost"], validity).unwrap();
    SmtpOptions {
        credentials: Some((USER.into(), PASSWORD.into())),
        tls: Some((leaf.cert_file, leaf.key_file)),
        reject: vec!["gone@health.example".into()],
    }
}

#[tokio::test]
async fn a_real_smtp_server_behind_a_private_ca_takes_alerts_and_threads_for_the_recipients_it_knows(
) {
    let mut ca = PrivateCa::new().unwrap();
    let Some(smtp) = RealSmtp::start(&options(&mut ca, Validity::Current)).expect("aiosmtpd")
    else {
        return;
    };
    let trust = TlsTrust::system()
        .with_extra_ca_files([&ca.ca_file])
        .unwrap();
    let email =
        connector(settings(&smtp, "starttls", Some(USER)), Some(PASSWORD)).with_tls_trust(trust);
    email.healthcheck().await.expect("STARTTLS, then AUTH");

    let mut first = OutgoingPost::new(
        "msg-1:acct-1",
        "Boil water before drinking.\nUntil further notice.",
    );
    first.html = Some("<p><b>Boil water</b> before drinking.</p>".into());
    let root = email.post(&first).await.expect("first post").remote;
    assert_eq!(root.id, message_id("msg-1:acct-1", "health.example"));
    // The unknown mailbox was refused (550) and reported; the others got the message.
    let sent = SentMail::from_remote(&root).unwrap();
    assert_eq!(sent.refused.len(), 1, "{sent:?}");
    assert_eq!(sent.refused[0].address, "gone@health.example");
    assert_eq!(sent.refused[0].code, 550);

    let mut update = OutgoingPost::new("msg-2:acct-1", "Update: the notice is lifted.");
    update.reply_to = Some(root.clone());
    update.thread_root = Some(root.clone());
    update.exercise = true;
    email.post(&update).await.expect("update");

    // An update with an image: inline, multipart/related, its Content-ID in the HTML.
    let mut pictured = OutgoingPost::new("msg-3:acct-1", "Update: the area map.");
    pictured.reply_to = Some(root.clone());
    pictured.thread_root = Some(root.clone());
    pictured.images = vec![tocsin_connector::PostImage {
        sha256: tocsin_test_support::images::sha256_hex(tocsin_test_support::images::MAP_PNG),
        media_type: "image/png".into(),
        width: 64,
        height: 48,
        alt: "Map of Ward 3".into(),
        bytes: bytes::Bytes::from_static(tocsin_test_support::images::MAP_PNG),
        public_url: None,
    }];
    email.post(&pictured).await.expect("update with an image");

    let stored = smtp.stored();
    assert_eq!(stored.len(), 3, "every message stored");
    let c = &stored[2];
    assert!(c.body().contains("multipart/related"), "{}", c.body());
    assert!(c.body().contains("Content-ID: <image1."), "{}", c.body());
    assert!(c.body().contains("Content-Type: image/png"), "{}", c.body());
    let (a, b) = (&stored[0], &stored[1]);
    assert_eq!(
        a.header("X-MailFrom").as_deref(),
        Some("alerts@health.example")
    );
    assert_eq!(
        a.header("X-RcptTo").as_deref(),
        Some("residents@lists.example, press@health.example")
    );
    // Recipients are not in the headers: To is the sender, there is no Bcc line.
    assert_eq!(
        a.header("To").as_deref(),
        Some("\"City Health\" <alerts@health.example>")
    );
    assert_eq!(a.header("Bcc"), None);
    // (Only the server's own X-RcptTo, added on receipt, names them.)
    for (name, value) in a.headers() {
        assert!(
            name.starts_with("X-") || !value.contains("press@health.example"),
            "{name}: {value}"
        );
    }
    assert_eq!(
        a.header("Subject").as_deref(),
        Some("Boil water before drinking.")
    );
    assert_eq!(a.header("Message-ID"), Some(root.id.clone()));
    let content_type = a.header("Content-Type").expect("content type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert!(a.body().contains("Until further notice."), "{}", a.body());
    // The update shares the thread's subject, so mail clients thread it.
    assert_eq!(
        b.header("Subject").as_deref(),
        Some("Re: Boil water before drinking.")
    );
    assert_eq!(b.header("In-Reply-To"), Some(root.id.clone()));
    assert_eq!(b.header("References"), Some(root.id.clone()));
}

#[tokio::test]
async fn a_real_smtp_server_s_certificate_is_refused_for_good_when_untrusted_or_expired() {
    let mut ca = PrivateCa::new().unwrap();
    let Some(smtp) = RealSmtp::start(&options(&mut ca, Validity::Current)).expect("aiosmtpd")
    else {
        return;
    };
    // The system store and the bundled roots do not know the private CA.
    let untrusting = connector(settings(&smtp, "starttls", Some(USER)), Some(PASSWORD));
    let err = untrusting
        .post(&OutgoingPost::new("k1", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("unknown certificate authority")),
        "{err:?}"
    );
    assert!(smtp.stored().is_empty());

    let Some(expired) = RealSmtp::start(&options(&mut ca, Validity::Expired)).expect("aiosmtpd")
    else {
        return;
    };
    let trust = TlsTrust::bundled_only()
        .with_extra_ca_files([&ca.ca_file])
        .unwrap();
    let email =
        connector(settings(&expired, "starttls", Some(USER)), Some(PASSWORD)).with_tls_trust(trust);
    let err = email.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("expired")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_real_smtp_server_refusing_the_password_or_offering_no_auth_is_a_clear_permanent_error() {
    let Some(smtp) = RealSmtp::start(&SmtpOptions {
        credentials: Some((USER.into(), PASSWORD.into())),
        ..SmtpOptions::default()
    })
    .expect("aiosmtpd") else {
        return;
    };
    let wrong = connector(
        settings(&smtp, "none", Some(USER)),
        Some("canary-wrong-password"),
    );
    let err = wrong
        .post(&OutgoingPost::new("k1", "text"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("535")),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("canary"),
        "{err}"
    );
    assert!(smtp.stored().is_empty(), "nothing was stored");

    // A relay that offers no AUTH at all, given credentials: said plainly, for good.
    let Some(open_relay) = RealSmtp::start(&SmtpOptions::default()).expect("aiosmtpd") else {
        return;
    };
    let email = connector(settings(&open_relay, "none", Some(USER)), Some(PASSWORD));
    let err = email.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Config(ref m) if m.contains("offers no AUTH")),
        "{err:?}"
    );
    assert!(err.is_permanent());
}

//! The email connector against the fake SMTP server: the message's headers and parts,
//! stable Message-IDs, threads, authentication, and how each SMTP failure is classified.

use super::*;
use serde_json::{json, Value};
use std::sync::Arc;
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_test_support::smtp::{FakeSmtp, ReceivedMail, SmtpFault, SmtpStage};

const PASSWORD: &str = "canary-smtp-password-31337";

fn settings(port: u16) -> Value {
    json!({
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "tls": "none",
        "from": "City Health <alerts@health.example>",
        "to": ["residents@lists.example", "Press Desk <press@health.example>"],
    })
}

fn connector_with(settings: Value, password: Option<&str>) -> EmailConnector {
    let config = EmailConfig::from_settings(&settings).unwrap();
    EmailConnector::new(config, password.map(|p| SecretString::from(p.to_string()))).unwrap()
}

async fn setup() -> (FakeSmtp, EmailConnector) {
    let smtp = FakeSmtp::start().await.unwrap();
    let email = connector_with(settings(smtp.port()), None);
    (smtp, email)
}

fn only_message(smtp: &FakeSmtp) -> ReceivedMail {
    let all = smtp.state.messages();
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
}

#[test]
fn message_ids_are_stable_uuid_shaped_distinct_per_key_and_name_the_senders_domain() {
    let id = message_id("msg-1:acct-3", "health.example");
    assert_eq!(id, message_id("msg-1:acct-3", "health.example"));
    assert_ne!(id, message_id("msg-2:acct-3", "health.example"));
    let inner = id
        .strip_prefix('<')
        .unwrap()
        .strip_suffix("@health.example>")
        .unwrap();
    let uuid = uuid::Uuid::parse_str(inner).unwrap();
    assert_eq!(uuid.get_version_num(), 8);
    assert_eq!(inner, uuid.hyphenated().to_string());
}

#[test]
fn the_subject_is_the_title_or_the_first_line_on_one_line() {
    let mut post = OutgoingPost::new("k", "\n  First line here.\nSecond line.");
    assert_eq!(subject(&post), "First line here.");
    post.title = Some("Boil water\r\nBcc: evil@example.org".into());
    assert_eq!(subject(&post), "Boil water Bcc: evil@example.org");
    post.exercise = true;
    assert_eq!(
        subject(&post),
        "[EXERCISE] Boil water Bcc: evil@example.org"
    );
    let long = OutgoingPost::new("k", "x".repeat(400));
    let cut = subject(&long);
    assert_eq!(cut.chars().count(), SUBJECT_FROM_TEXT_CHARS);
    assert!(cut.ends_with('…'));
}

#[tokio::test]
async fn a_plain_post_is_one_text_part_with_the_first_line_as_subject_and_a_stable_message_id() {
    let (smtp, email) = setup().await;
    let post = OutgoingPost::new(
        "msg-1:acct-3",
        "Boil water before drinking.\nUntil further notice.",
    );
    let outcome = email.post(&post).await.unwrap();

    let mail = only_message(&smtp);
    assert!(mail.accepted);
    assert_eq!(mail.mail_from, "alerts@health.example");
    assert_eq!(
        mail.rcpt_to,
        vec!["residents@lists.example", "press@health.example"]
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Boil water before drinking.")
    );
    assert_eq!(
        mail.header("Message-ID"),
        Some(message_id("msg-1:acct-3", "health.example"))
    );
    assert_eq!(
        mail.header("From").as_deref(),
        Some("\"City Health\" <alerts@health.example>")
    );
    // The recipients are in the envelope only: no header lists them (a Bcc).
    assert_eq!(
        mail.header("To").as_deref(),
        Some("\"City Health\" <alerts@health.example>")
    );
    assert_eq!(mail.header("Bcc"), None);
    assert!(
        !mail.text().contains("residents@lists.example"),
        "{}",
        mail.text()
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(mail.header("In-Reply-To"), None);
    assert_eq!(mail.header("References"), None);
    let content_type = mail.header("Content-Type").unwrap().to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        mail.body().contains("Until further notice."),
        "{}",
        mail.body()
    );
    assert_eq!(
        outcome.remote.id,
        message_id("msg-1:acct-3", "health.example")
    );
}

#[tokio::test]
async fn html_makes_a_multipart_alternative_with_the_plain_text_first() {
    let (smtp, email) = setup().await;
    let mut post = OutgoingPost::new("k", "Boil water.");
    post.html = Some("<p><b>Boil</b> water.</p>".into());
    email.post(&post).await.unwrap();
    let mail = only_message(&smtp);
    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let body = mail.body();
    let plain = body.find("Content-Type: text/plain").unwrap();
    let html = body.find("Content-Type: text/html").unwrap();
    assert!(plain < html, "plain first: {body}");
    assert!(body.contains("<p><b>Boil</b> water.</p>"), "{body}");
}

#[tokio::test]
async fn the_title_is_the_subject_and_an_exercise_is_marked_in_it() {
    let (smtp, email) = setup().await;
    let mut post = OutgoingPost::new("k", "This is a drill.");
    post.title = Some("Shelter in place".into());
    post.exercise = true;
    email.post(&post).await.unwrap();
    assert_eq!(
        only_message(&smtp).header("Subject").as_deref(),
        Some("[EXERCISE] Shelter in place")
    );
}

#[tokio::test]
async fn thread_updates_set_in_reply_to_the_previous_post_and_references_to_root_and_previous() {
    let (smtp, email) = setup().await;
    let root = email
        .post(&OutgoingPost::new("m1", "Water main break."))
        .await
        .unwrap()
        .remote;
    let mut second = OutgoingPost::new("m2", "Update 1.");
    second.reply_to = Some(root.clone());
    second.thread_root = Some(root.clone());
    let second = email.post(&second).await.unwrap().remote;
    let mut third = OutgoingPost::new("m3", "Update 2.");
    third.reply_to = Some(second.clone());
    third.thread_root = Some(root.clone());
    email.post(&third).await.unwrap();

    let mails = smtp.state.messages();
    let second_mail = mails.get(1).unwrap();
    assert_eq!(second_mail.header("In-Reply-To"), Some(root.id.clone()));
    assert_eq!(second_mail.header("References"), Some(root.id.clone()));
    let third_mail = mails.get(2).unwrap();
    assert_eq!(third_mail.header("In-Reply-To"), Some(second.id.clone()));
    assert_eq!(
        third_mail.header("References"),
        Some(format!("{} {}", root.id, second.id))
    );
    // One subject for the thread, so mail clients put the updates together.
    assert_eq!(
        mails.first().unwrap().header("Subject").as_deref(),
        Some("Water main break.")
    );
    assert_eq!(
        second_mail.header("Subject").as_deref(),
        Some("Re: Water main break.")
    );
    assert_eq!(
        third_mail.header("Subject").as_deref(),
        Some("Re: Water main break.")
    );
}

#[tokio::test]
async fn one_refused_recipient_does_not_stop_the_others_and_is_reported() {
    let (smtp, email) = setup().await;
    smtp.state.reject_recipient("press@health.example");
    let outcome = email
        .post(&OutgoingPost::new("k", "Shelter in place."))
        .await
        .unwrap();
    let mail = only_message(&smtp);
    assert_eq!(mail.rcpt_to, vec!["residents@lists.example"]);
    let sent = SentMail::from_remote(&outcome.remote).unwrap();
    assert_eq!(
        sent.refused,
        vec![RefusedRecipient {
            address: "press@health.example".into(),
            code: 550
        }]
    );
    assert_eq!(sent.subject, "Shelter in place.");
}

#[tokio::test]
async fn every_recipient_refused_sends_nothing_permanently_or_for_now() {
    let (smtp, email) = setup().await;
    smtp.state.reject_recipient("press@health.example");
    smtp.state.reject_recipient("residents@lists.example");
    let err = email.post(&OutgoingPost::new("k", "x")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("every recipient") && m.contains("550")),
        "{err:?}"
    );
    assert!(smtp.state.accepted().is_empty());

    let (smtp, email) = setup().await;
    smtp.state.reject_recipient("press@health.example");
    smtp.state.push_fault(SmtpFault::Reply {
        stage: SmtpStage::RcptTo,
        code: 450,
    });
    let err = email.post(&OutgoingPost::new("k", "x")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(smtp.state.accepted().is_empty());
}

/// The fake used to take every recipient unless a fault was scripted for the very next
/// RCPT, so "one bad address stops the whole alert" never showed: aiosmtpd and real
/// servers refuse an unknown mailbox and take the rest.
#[tokio::test]
async fn the_fake_refuses_one_mailbox_and_takes_the_rest_as_real_servers_do() {
    let smtp = FakeSmtp::start().await.unwrap();
    smtp.state.reject_recipient("gone@example.org");
    let mut stream = tokio::net::TcpStream::connect(smtp.addr).await.unwrap();
    let transcript = smtp_dialogue(
        &mut stream,
        &[
            "EHLO t",
            "MAIL FROM:<a@example.org>",
            "RCPT TO:<gone@example.org>",
            "RCPT TO:<here@example.org>",
        ],
    )
    .await;
    assert!(transcript.contains("550 5.1.1"), "{transcript}");
    assert!(
        transcript.trim_end().ends_with("250 2.1.5 OK"),
        "{transcript}"
    );
}

async fn smtp_dialogue(stream: &mut tokio::net::TcpStream, lines: &[&str]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    out.push_str(&String::from_utf8_lossy(&buf[..n]));
    for line in lines {
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    out
}

#[tokio::test]
async fn credentials_for_a_server_that_offers_no_auth_are_a_clear_configuration_error() {
    let smtp = FakeSmtp::start().await.unwrap();
    let mut s = settings(smtp.port());
    s["username"] = json!("alerts");
    let email = connector_with(s, Some(PASSWORD));
    for err in [
        email.post(&OutgoingPost::new("k", "x")).await.unwrap_err(),
        email.healthcheck().await.unwrap_err(),
    ] {
        assert!(
            matches!(err, ConnectorError::Config(ref m) if m.contains("offers no AUTH")),
            "{err:?}"
        );
        assert!(err.is_permanent());
    }
    assert!(smtp.state.messages().is_empty());
}

#[tokio::test]
async fn a_resend_carries_the_same_message_id() {
    let (smtp, email) = setup().await;
    let post = OutgoingPost::new("msg-5:acct-3", "Evacuate zone B.");
    let first = email.post(&post).await.unwrap();
    let second = email.post(&post).await.unwrap();
    assert_eq!(first.remote, second.remote);
    let ids: Vec<Option<String>> = smtp
        .state
        .messages()
        .iter()
        .map(|m| m.header("Message-ID"))
        .collect();
    assert_eq!(
        ids,
        vec![Some(message_id("msg-5:acct-3", "health.example")); 2]
    );
}

#[tokio::test]
async fn lines_that_start_with_a_dot_survive_the_trip() {
    let (smtp, email) = setup().await;
    email
        .post(&OutgoingPost::new("k", "before\n.\n..two dots\nafter"))
        .await
        .unwrap();
    let body = only_message(&smtp).body();
    assert!(
        body.contains("before\r\n.\r\n..two dots\r\nafter"),
        "{body:?}"
    );
}

#[tokio::test]
async fn the_password_is_used_for_auth_and_a_wrong_one_is_an_auth_failure_that_hides_it() {
    let smtp = FakeSmtp::with_credentials("alerts", PASSWORD)
        .await
        .unwrap();
    let mut s = settings(smtp.port());
    s["username"] = json!("alerts");
    let good = connector_with(s.clone(), Some(PASSWORD));
    good.post(&OutgoingPost::new("k1", "text")).await.unwrap();
    assert_eq!(only_message(&smtp).auth_user.as_deref(), Some("alerts"));

    let wrong = connector_with(s, Some("canary-wrong-password"));
    let err = wrong
        .post(&OutgoingPost::new("k2", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("535")),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("canary"),
        "{err}"
    );
    assert_eq!(smtp.state.messages().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn a_server_wanting_auth_from_an_account_without_it_is_an_auth_failure() {
    let smtp = FakeSmtp::with_credentials("alerts", PASSWORD)
        .await
        .unwrap();
    let email = connector_with(settings(smtp.port()), None);
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("530")),
        "{err:?}"
    );
}

#[tokio::test]
async fn transient_replies_before_data_are_transient_and_nothing_is_accepted() {
    for (stage, code) in [
        (SmtpStage::Greeting, 421),
        (SmtpStage::Ehlo, 421),
        (SmtpStage::MailFrom, 451),
        (SmtpStage::Data, 452),
    ] {
        let (smtp, email) = setup().await;
        smtp.state.push_fault(SmtpFault::Reply { stage, code });
        let err = email
            .post(&OutgoingPost::new("k", "text"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Transient(_)),
            "{stage:?} {code}: {err:?}"
        );
        assert!(smtp.state.accepted().is_empty(), "{stage:?}");
    }
}

#[tokio::test]
async fn permanent_replies_are_permanent() {
    for (stage, code) in [
        (SmtpStage::Greeting, 554),
        (SmtpStage::MailFrom, 553),
        (SmtpStage::EndOfData, 554),
    ] {
        let (smtp, email) = setup().await;
        smtp.state.push_fault(SmtpFault::Reply { stage, code });
        let err = email
            .post(&OutgoingPost::new("k", "text"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Permanent(ref m) if m.contains(&code.to_string())),
            "{stage:?} {code}: {err:?}"
        );
        assert!(smtp.state.accepted().is_empty(), "{stage:?}");
    }
}

#[tokio::test]
async fn a_temporary_refusal_after_the_message_is_transient_not_unknown() {
    let (smtp, email) = setup().await;
    smtp.state.push_fault(SmtpFault::Reply {
        stage: SmtpStage::EndOfData,
        code: 451,
    });
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(smtp.state.accepted().is_empty());
}

#[tokio::test]
async fn a_server_silent_after_the_final_dot_is_unknown_once_the_timeout_passes() {
    let smtp = FakeSmtp::start().await.unwrap();
    let mut s = settings(smtp.port());
    s["timeout_secs"] = json!(1);
    let email = connector_with(s, None);
    smtp.state.push_fault(SmtpFault::SilentAfterData);
    let started = std::time::Instant::now();
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown(ref m) if m.contains("did not confirm")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let email = connector_with(settings(port), None);
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn starttls_that_the_server_does_not_offer_is_refused_before_anything_is_sent() {
    let smtp = FakeSmtp::start().await.unwrap();
    let mut s = settings(smtp.port());
    s["tls"] = json!("starttls");
    let email = connector_with(s, None);
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Config(ref m) if m.contains("STARTTLS")),
        "{err:?}"
    );
    assert!(smtp.state.messages().is_empty());
    assert!(!smtp.state.commands().iter().any(|c| c.starts_with("MAIL")));
}

#[tokio::test]
async fn the_healthcheck_connects_authenticates_and_sends_noop_without_mail() {
    let smtp = FakeSmtp::with_credentials("alerts", PASSWORD)
        .await
        .unwrap();
    let mut s = settings(smtp.port());
    s["username"] = json!("alerts");
    let email = connector_with(s, Some(PASSWORD));
    email.healthcheck().await.unwrap();
    let commands = smtp.state.commands();
    assert!(
        commands.iter().any(|c| c.starts_with("AUTH")),
        "{commands:?}"
    );
    assert!(commands.iter().any(|c| c == "NOOP"), "{commands:?}");
    assert!(
        !commands.iter().any(|c| c.starts_with("MAIL")),
        "{commands:?}"
    );
    assert!(!commands.iter().any(|c| c.contains(PASSWORD)));
}

#[test]
fn build_connector_makes_an_email_connector_and_checks_the_password_pairing() {
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let sandbox = Arc::new(crate::sandbox::SandboxLog::default());
    let mut s = settings(587);
    s["smtp_host"] = json!("smtp.example.org");
    s["tls"] = json!("starttls");
    s["username"] = json!("alerts");
    let mut spec = AccountSpec {
        id: "acct-mail".into(),
        platform: Platform::Email,
        name: "residents list".into(),
        settings: s,
        secret: Some(SecretString::from(PASSWORD.to_string())),
    };
    let connector = crate::build_connector(&spec, &http, &sandbox).unwrap();
    assert_eq!(connector.platform(), Platform::Email);
    assert!(!connector.can_delete());
    spec.secret = None;
    let err = crate::build_connector(&spec, &http, &sandbox)
        .err()
        .unwrap();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_fails_before_anything_is_sent() {
    let smtp = FakeSmtp::start().await.unwrap();
    let mut s = settings(smtp.port());
    s["tls"] = json!("implicit");
    let email = connector_with(s, None);
    let err = email
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(smtp.state.messages().is_empty());
    assert!(!smtp.state.commands().iter().any(|c| c.starts_with("MAIL")));
}

/// Quoted-printable text decoded (soft line breaks joined, `=XX` bytes restored).
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
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

/// The decoded body of the MIME part under `Content-ID: <cid>` (base64, as lettre
/// encodes binary parts).
fn inline_part(body: &str, cid: &str) -> Vec<u8> {
    use base64::Engine as _;
    let at = body
        .find(&format!("Content-ID: <{cid}>"))
        .unwrap_or_else(|| panic!("no part {cid} in {body}"));
    let rest = &body[at..];
    let start = rest.find("\r\n\r\n").unwrap() + 4;
    let encoded: String = rest[start..]
        .lines()
        .take_while(|l| !l.starts_with("--") && !l.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

#[tokio::test]
async fn images_go_inline_in_multipart_related_with_their_alt_text_in_the_html() {
    use crate::media::fixtures;
    let (smtp, email) = setup().await;
    let mut post = OutgoingPost::new("k", "Boil water <now>.");
    post.images = vec![fixtures::map(), fixtures::card()];
    email.post(&post).await.unwrap();
    let mail = only_message(&smtp);
    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let body = mail.body();
    assert!(body.contains("multipart/related"), "{body}");
    let shown = quoted_printable(&body);
    let map = fixtures::map();
    let cid = format!("image1.{}@tocsin", &map.sha256[..16]);
    assert!(
        shown.contains(&format!(
            "<img src=\"cid:{cid}\" alt=\"{}\" width=\"64\" height=\"48\">",
            map.alt
        )),
        "{shown}"
    );
    assert!(shown.contains("<p>Boil water &lt;now&gt;.</p>"), "{shown}");
    assert!(
        shown.contains(&format!("[Image 1: {}]", map.alt)),
        "the plain part describes it"
    );
    assert_eq!(inline_part(&body, &cid), map.bytes.to_vec(), "bytes intact");
    assert!(body.contains("Content-Disposition: inline"), "{body}");
    let card_cid = format!("image2.{}@tocsin", &fixtures::card().sha256[..16]);
    assert_eq!(
        inline_part(&body, &card_cid),
        fixtures::card().bytes.to_vec()
    );
}

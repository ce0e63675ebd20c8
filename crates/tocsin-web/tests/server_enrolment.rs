//! People set their own credentials over HTTP: the admin adds a person and gets only a
//! one-time link; at the link the person scans a server-drawn QR code, chooses a password
//! and proves the factor; signed in, they change their password and re-enrol the factor.

use chrono::Duration;
use serde_json::json;
use tocsin_app::people::{totp, Role};

use crate::on_both_backends;
use crate::server_support::Srv;
use crate::support::Backend;

on_both_backends!(
    an_admin_adds_a_person_who_sets_their_own_credentials_at_the_link,
    a_person_changes_their_password_and_second_factor_over_the_api,
);

const NIA_PASSWORD: &str = "nia's own long passphrase";

/// Adds `nia` as `root` and enrols her through the link; returns her factor's secret.
async fn nia_enrolled(s: &Srv) -> String {
    s.add_user("root", Role::Admin).await;
    let root = s.sign_in("root").await;
    let r = root
        .post("/api/users", json!({"name": "nia", "role": "drafter"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        !r.text.contains("otpauth") && !r.text.contains("secret") && !r.text.contains("password"),
        "the admin sees no credential: {}",
        r.text
    );
    let path = r.body["enrolment_path"].as_str().unwrap().to_string();
    let token = path.strip_prefix("/#/enrol/").unwrap().to_string();

    let nia = s.client();
    let start = nia
        .post("/api/enrolment/start", json!({"token": token}))
        .await;
    assert_eq!(start.status, 200, "{}", start.text);
    assert_eq!(start.body["name"], "nia");
    let svg = start.body["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    let secret = start.body["secret"].as_str().unwrap().to_string();
    let code = totp::code_from_base32(&secret, s.store().now()).unwrap();
    nia.post(
        "/api/enrolment/complete",
        json!({"token": token, "password": "password1234", "code": code}),
    )
    .await
    .refused(422, "invalid");
    let r = nia
        .post(
            "/api/enrolment/complete",
            json!({"token": token, "password": NIA_PASSWORD, "code": code}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The link works once.
    nia.post("/api/enrolment/start", json!({"token": token}))
        .await
        .refused(404, "enrolment_link");
    let users = root.get("/api/users").await.ok();
    let row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "nia")
        .unwrap()
        .clone();
    assert_eq!(row["second_factor"], "active");
    let audit = s.audit().await;
    for action in ["user.add", "user.enrolment_link", "user.enrol"] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }
    secret
}

async fn sign_in_nia(s: &Srv, password: &str, secret: &str) -> crate::server_support::Api {
    s.advance(Duration::seconds(30));
    let api = s.client();
    let code = totp::code_from_base32(secret, s.store().now()).unwrap();
    let r = api
        .post(
            "/api/session",
            json!({"name": "nia", "password": password, "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    api
}

async fn an_admin_adds_a_person_who_sets_their_own_credentials_at_the_link(backend: Backend) {
    let s = Srv::start(backend).await;
    let secret = nia_enrolled(&s).await;
    let nia = sign_in_nia(&s, NIA_PASSWORD, &secret).await;
    assert_eq!(nia.get("/api/me").await.ok()["user"], "nia");
}

async fn a_person_changes_their_password_and_second_factor_over_the_api(backend: Backend) {
    let s = Srv::start(backend).await;
    let secret = nia_enrolled(&s).await;
    let nia = sign_in_nia(&s, NIA_PASSWORD, &secret).await;
    nia.post(
        "/api/me/password",
        json!({"current_password": "a wrong guess of hers", "new_password": "whatever new words"}),
    )
    .await
    .refused(422, "wrong_password");
    let r = nia
        .post(
            "/api/me/password",
            json!({"current_password": NIA_PASSWORD, "new_password": "nia's second passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    // A new factor needs a recent re-authentication (sign-in counts, for 5 minutes).
    s.advance(Duration::minutes(6));
    nia.post("/api/me/second-factor", json!({}))
        .await
        .refused(403, "reauthentication_needed");
    let code = totp::code_from_base32(&secret, s.store().now()).unwrap();
    let r = nia
        .post(
            "/api/session/reauthenticate",
            json!({"password": "nia's second passphrase", "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let f = nia.post("/api/me/second-factor", json!({})).await.ok();
    assert!(f["qr_svg"].as_str().unwrap().contains("<svg"));
    let fresh = f["secret"].as_str().unwrap().to_string();
    let code = totp::code_from_base32(&fresh, s.store().now()).unwrap();
    let r = nia
        .post("/api/me/second-factor/confirm", json!({"code": code}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let again = sign_in_nia(&s, "nia's second passphrase", &fresh).await;
    assert_eq!(again.get("/api/me").await.ok()["user"], "nia");
    let audit = s.audit().await;
    for action in ["user.password_change", "user.totp_reenrol"] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }
}

//! `tocsin users ...`: adding a person prints a one-time enrolment link, never a password
//! or a second factor's secret; the person sets both at the link; every change is
//! audited.

use crate::support::{enrol, enrolment_token, Workspace};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn adding_a_person_prints_a_one_time_link_and_no_secret_and_they_set_their_own() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let out = ws
        .tocsin_env(&["users", "add", "dana", "--role", "drafter"], &env)
        .ok();
    assert!(
        out.contains("http://127.0.0.1:8080/#/enrol/"),
        "the link is printed: {out}"
    );
    assert!(
        !out.contains("otpauth://") && !out.contains("secret"),
        "the admin sees no second factor: {out}"
    );
    let list = ws.tocsin_env(&["users", "list"], &env).ok();
    assert!(
        list.contains("dana") && list.contains("drafter") && list.contains("none"),
        "{list}"
    );
    let token = enrolment_token(&out);
    let secret = enrol(&ws, KEY, &token, "correct horse battery 42");
    let list = ws.tocsin_env(&["users", "list"], &env).ok();
    assert!(list.contains("active"), "{list}");
    let export = ws.tocsin(&["audit", "export"]).ok();
    for action in ["user.add", "user.enrolment_link", "user.enrol"] {
        assert!(
            export.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {export}"
        );
    }
    assert!(!export.contains(&secret), "the secret never enters the log");
    assert!(!export.contains(&token), "nor the link's token");
    assert!(
        !export.contains("correct horse battery"),
        "nor the password"
    );
}

#[test]
fn a_password_is_not_taken_from_the_operator_and_an_unknown_role_is_refused() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let out = ws
        .tocsin_input(
            &[
                "users",
                "add",
                "alex",
                "--role",
                "approver",
                "--password-stdin",
            ],
            &env,
            "a-long-enough-passphrase-42\n",
        )
        .fails();
    assert!(out.contains("--password-stdin"), "{out}");
    let out = ws
        .tocsin_env(&["users", "add", "alex", "--role", "overlord"], &env)
        .fails();
    assert!(out.contains("overlord"), "{out}");
}

#[test]
fn resetting_a_second_factor_prints_a_new_link_and_the_old_one_stops_working() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let first = enrolment_token(
        &ws.tocsin_env(&["users", "add", "dana", "--role", "drafter"], &env)
            .ok(),
    );
    let out = ws.tocsin_env(&["users", "reset-totp", "dana"], &env).ok();
    let second = enrolment_token(&out);
    assert_ne!(first, second);
    assert!(!out.contains("otpauth://"), "{out}");
    enrol(&ws, KEY, &second, "correct horse battery 42");
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(
        export.contains("\"action\":\"user.totp_reset\""),
        "{export}"
    );
}

#[test]
fn without_a_sealing_key_no_user_is_added() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin_env(&["users", "add", "dana", "--role", "drafter"], &[])
        .fails();
    assert!(out.contains("TOCSIN_SECRET_KEY"), "{out}");
    assert!(!ws
        .tocsin_env(&["users", "list"], &[])
        .stdout()
        .contains("dana"));
}

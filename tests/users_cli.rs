//! `tocsin users ...`: people are added with a strong password and a second factor whose
//! secret is sealed under a key that never enters the database; every change is audited.

use crate::support::Workspace;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn a_user_is_added_with_a_second_factor_and_listed_and_the_change_is_audited() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    let out = ws
        .tocsin_input(
            &[
                "users",
                "add",
                "dana",
                "--role",
                "drafter",
                "--password-stdin",
            ],
            &env,
            "correct horse battery 42\n",
        )
        .ok();
    assert!(out.contains("otpauth://totp/"), "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap()
        .to_string();
    let list = ws.tocsin_env(&["users", "list"], &env).ok();
    assert!(
        list.contains("dana") && list.contains("drafter") && list.contains("pending"),
        "{list}"
    );
    let export = ws.tocsin(&["audit", "export"]).ok();
    assert!(export.contains("\"action\":\"user.add\""), "{export}");
    assert!(
        export.contains("\"action\":\"user.totp_enrol\""),
        "{export}"
    );
    assert!(
        !export.contains(&secret),
        "the TOTP secret never enters the audit log"
    );
    assert!(
        !export.contains("correct horse battery"),
        "nor the password"
    );
}

#[test]
fn a_common_password_or_an_unknown_role_is_refused_with_a_reason() {
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
            "password1234\n",
        )
        .fails();
    assert!(out.to_lowercase().contains("common"), "{out}");
    let out = ws
        .tocsin_input(
            &[
                "users",
                "add",
                "alex",
                "--role",
                "overlord",
                "--password-stdin",
            ],
            &env,
            "a-long-enough-passphrase-42\n",
        )
        .fails();
    assert!(out.contains("overlord"), "{out}");
}

#[test]
fn without_a_sealing_key_no_user_is_added() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin_input(
            &[
                "users",
                "add",
                "dana",
                "--role",
                "drafter",
                "--password-stdin",
            ],
            &[],
            "a-long-enough-passphrase-42\n",
        )
        .fails();
    assert!(out.contains("TOCSIN_SECRET_KEY"), "{out}");
    assert!(!ws
        .tocsin_env(&["users", "list"], &[])
        .stdout()
        .contains("dana"));
}

//! `tocsin drill`: a playbook rehearsed end to end through the real store, dispatcher and
//! audit log, reaching only sandbox accounts, each getting its own platform's text.

use crate::support::Workspace;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn a_drill_sends_each_platform_its_text_then_retracts_it_everywhere_with_a_notice_where_it_cannot_delete(
) {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&["drill", "boil-water", "--retract", "--as", "lead"])
        .ok();
    assert!(
        out.contains("EXERCISE drill of boil-water: 1 post(s)"),
        "{out}"
    );
    assert!(
        out.contains("boil-water / alert: message 1 approved as an exercise by lead"),
        "{out}"
    );
    assert_eq!(out.matches(" delivered /sandbox/").count(), 15, "{out}");
    // Email, SMS, Teams and Instagram cannot delete: their stand-ins get the playbook's
    // withdrawal notice instead, and are never said to be deleted.
    assert_eq!(out.matches(" deleted /sandbox/").count(), 11, "{out}");
    assert_eq!(out.matches(" notice sent /sandbox/").count(), 4, "{out}");
    assert!(
        out.contains("15 accounts: 4 get the withdrawal notice"),
        "{out}"
    );
    let sms_row = out
        .lines()
        .find(|l| l.starts_with("SMS ") && l.contains("sent"))
        .unwrap_or_default();
    assert!(
        sms_row.contains("HEALTH DEPT: Boil water advisory"),
        "the SMS stand-in got the SMS variant: {out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(" retracted ")).count(),
        11,
        "{out}"
    );

    let tail = ws
        .tocsin(&["audit", "tail", "--no-follow", "-n", "500"])
        .ok();
    let approve = tail
        .lines()
        .find(|l| l.contains("message.approve"))
        .unwrap_or_default();
    assert!(
        approve.contains("lead") && approve.contains("[exercise]"),
        "{tail}"
    );
    assert!(
        tail.lines()
            .filter(|l| l.contains("delivery.result"))
            .all(|l| l.contains("[exercise]")),
        "{tail}"
    );
    assert!(tail.contains("message.retract"), "{tail}");
    assert!(ws.tocsin(&["audit", "verify"]).ok().contains("OK"));
}

#[test]
fn a_drill_of_a_message_carrying_phi_is_refused_like_an_alert_would_be() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "drill",
            "boil-water",
            "--var",
            "area=the home of patient John Smith, SSN 123-45-6789",
        ])
        .fails();
    assert!(out.contains("possible PHI (ssn)"), "{out}");
    assert!(out.contains("blocked"), "{out}");
}

#[test]
fn a_live_session_drill_threads_numbered_posts_per_account() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "drill",
            "live-procedure",
            "--step",
            "intro",
            "--step",
            "update",
            "--step",
            "update",
        ])
        .ok();
    assert!(out.contains("live session 1 under #MercyKneeLive"), "{out}");
    let mastodon: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Mastodon ") && l.contains(" sent "))
        .collect();
    assert_eq!(mastodon.len(), 3, "{out}");
    assert!(
        mastodon[0].contains(" 1/ ") && !mastodon[0].contains("reply to"),
        "{out}"
    );
    assert!(
        mastodon[1].contains(" 2/ ") && mastodon[1].contains("reply to"),
        "{out}"
    );
    assert!(
        mastodon[2].contains(" 3/ ") && mastodon[2].contains("reply to"),
        "{out}"
    );
}

#[test]
fn a_drill_rehearses_the_target_set_standing_in_for_the_platforms_its_groups_reach() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    ws.write("tg.toml", "chat_id = \"-1001234567890\"\n");
    ws.tocsin_input(
        &[
            "accounts",
            "add",
            "--platform",
            "telegram",
            "--handle",
            "@ops",
            "--name",
            "Operations room",
            "--settings-file",
            "tg.toml",
            "--secret-stdin",
            "--skip-check",
            "--group",
            "staff",
        ],
        &env,
        "123456789:drill-token\n",
    )
    .ok();

    // The staff group has one Telegram account: the drill stands in for Telegram only,
    // and nobody real is reached.
    let out = ws
        .tocsin_env(
            &["drill", "boil-water", "--group", "staff", "--as", "lead"],
            &env,
        )
        .ok();
    assert!(
        out.contains("no sandbox account is in groups staff; the drill stands in for the platforms they reach: Telegram"),
        "{out}"
    );
    assert!(out.contains("sending to 1 sandbox accounts"), "{out}");
    assert_eq!(out.matches(" delivered /sandbox/").count(), 1, "{out}");
    let tail = ws
        .tocsin_env(&["audit", "tail", "--no-follow", "-n", "500"], &env)
        .ok();
    let approve = tail
        .lines()
        .find(|l| l.contains("message.approve"))
        .unwrap_or_default();
    assert!(approve.contains("staff"), "{tail}");

    // The playbook's own audience has no account here: every platform is stood in for.
    let out = ws.tocsin_env(&["drill", "boil-water"], &env).ok();
    assert!(
        out.contains("no account is in groups partners, public, residents-sms; the drill stands in for every platform"),
        "{out}"
    );
    assert_eq!(out.matches(" delivered /sandbox/").count(), 15, "{out}");

    let out = ws
        .tocsin_env(&["drill", "boil-water", "--group", "stafff"], &env)
        .fails();
    assert!(out.contains("--group stafff"), "{out}");
}

//! `tocsin playbooks ...`: the shipped library lints clean, broken playbooks are all
//! reported at once with file:line:column, renders are exact per platform, and
//! pre-approval follows the content hash.

use crate::support::Workspace;

const MINIMAL: &str = r#"
id = "mini"
title = "Minimal"
description = "A test playbook."
timezone = "America/Chicago"

[[variables]]
name = "area"
type = "text"
label = "Area"
max_length = 60
example = "North Side"

[[steps]]
id = "alert"
title = "Alert"
headline = "Alert for {{area}}"
template = "mini/alert.hbs"
"#;

fn minimal(ws: &Workspace, id: &str, template_body: &str) {
    ws.write(
        &format!("playbooks/{id}.toml"),
        &MINIMAL.replace("mini", id),
    );
    ws.write(&format!("templates/{id}/alert.hbs"), template_body);
}

#[test]
fn the_shipped_library_lints_clean() {
    let ws = Workspace::with_library();
    let out = ws.tocsin(&["playbooks", "lint"]).ok();
    assert!(out.contains("0 error(s)"), "{out}");
}

#[test]
fn lint_prints_every_step_s_reading_grade_and_warns_above_the_playbook_s_maximum() {
    let ws = Workspace::with_library();
    let out = ws.tocsin(&["playbooks", "lint"]).ok();
    assert!(out.contains("Reading grades (example values"), "{out}");
    for step in [
        "boil-water/alert",
        "boil-water/update",
        "boil-water/lifted",
        "correction/correction",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{step} ")))
            .unwrap_or_else(|| panic!("no grade for {step} in\n{out}"));
        assert!(
            line.contains("(Flesch–Kincaid grade level, max 8): "),
            "{line}"
        );
        assert!(line.contains("mastodon"), "{line}");
    }

    let ws = Workspace::empty();
    minimal(&ws, "plain", "Boil water in {{area}}. Let it cool.");
    minimal(
        &ws,
        "dense",
        "Residents of {{area}} experiencing gastrointestinal symptoms following consumption of municipal water are encouraged to consult healthcare professionals.",
    );
    let out = ws.tocsin(&["playbooks", "lint"]).ok();
    let line = |id: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{id}/alert ")))
            .unwrap_or_else(|| panic!("no {id} in\n{out}"))
            .to_string()
    };
    assert!(!line("plain").contains("ABOVE"), "{out}");
    assert!(line("dense").contains("ABOVE"), "{out}");
    assert!(
        out.contains("warning: step `alert` on Mastodon: reading grade"),
        "{out}"
    );
    assert!(out.contains(" 0 error(s)"), "{out}");
}

#[test]
fn the_shipped_library_has_every_scenario_the_product_promises() {
    let ws = Workspace::with_library();
    let out = ws.tocsin(&["playbooks", "list"]).ok();
    for id in [
        "boil-water",
        "measles-exposure",
        "extreme-heat",
        "air-quality",
        "shelter-in-place",
        "vaccine-clinic",
        "service-disruption",
        "all-clear",
        "correction",
        "live-procedure",
    ] {
        assert!(out.contains(id), "missing {id} in\n{out}");
    }
}

#[test]
fn one_broken_playbook_does_not_hide_the_problems_of_the_others() {
    let ws = Workspace::empty();
    minimal(&ws, "good", "Boil water in {{area}}.");
    ws.write("playbooks/malformed.toml", "id = \"malformed\"\ntitle = \n");
    ws.write(
        "playbooks/unknown-field.toml",
        &MINIMAL
            .replace("mini", "unknown-field")
            .replace("title = \"Alert\"", "title = \"Alert\"\ntitel = \"x\""),
    );
    ws.write(
        "playbooks/no-template.toml",
        &MINIMAL.replace("mini", "no-template"),
    );
    minimal(&ws, "syntax", "Boil water in {{#if area}}{{area}}.");
    minimal(&ws, "misspelled", "Line one.\nBoil water in {{aera}}.");
    ws.write(
        "playbooks/bad-example.toml",
        &MINIMAL.replace("mini", "bad-example").replace(
            "example = \"North Side\"",
            "example = \"North Side\"\nchoices = [\"a\"]",
        ),
    );
    ws.write("templates/bad-example/alert.hbs", "{{area}}");

    let run = ws.tocsin(&["playbooks", "lint"]);
    let out = run.fails();
    assert_eq!(run.code(), 1);
    assert!(out.contains("malformed.toml:2:9: error"), "{out}");
    assert!(
        out.contains("unknown-field.toml:") && out.contains("unknown field `titel`"),
        "{out}"
    );
    assert!(
        out.contains("no-template.toml:")
            && out.contains("template `no-template/alert.hbs` cannot be read"),
        "{out}"
    );
    assert!(
        out.contains("syntax/alert.hbs:") && out.contains("template syntax error"),
        "{out}"
    );
    assert!(
        out.contains("misspelled/alert.hbs:2:") && out.contains("`aera` is not a variable"),
        "{out}"
    );
    assert!(out.contains("`choices` applies only to type enum"), "{out}");
    assert!(
        out.lines()
            .filter(|l| l.contains("good.toml"))
            .all(|l| l.contains(": warning: ")),
        "the good playbook has no errors:\n{out}"
    );
    assert!(out.contains("7 playbook(s) checked: 6 error(s)"), "{out}");
}

#[test]
fn lint_warns_of_a_missing_audience_and_of_a_group_no_account_has() {
    let ws = Workspace::empty();
    minimal(&ws, "everyone", "Boil water in {{area}}.");
    ws.write(
        "playbooks/staffed.toml",
        &MINIMAL.replace("mini", "staffed").replace(
            "timezone = \"America/Chicago\"",
            "timezone = \"America/Chicago\"\naudience = [\"public\", \"eoc-room\"]",
        ),
    );
    ws.write("templates/staffed/alert.hbs", "Boil water in {{area}}.");
    let out = ws.tocsin(&["playbooks", "lint"]).ok();
    assert!(
        out.contains("everyone.toml:2:1: warning: playbook `everyone` has no `audience`: its messages go to every connected account"),
        "{out}"
    );
    assert!(
        out.contains("staffed.toml:6:13: warning: audience group `public` of playbook `staffed` has no account yet"),
        "{out}"
    );
    assert!(out.contains("audience group `eoc-room`"), "{out}");
    assert!(out.contains("0 error(s), 3 warning(s)"), "{out}");

    // Once an account is in the group, that warning goes.
    ws.write(
        "tg.toml",
        "chat_id = \"-1001234567890\"\napi_url = \"http://127.0.0.1:9\"\n",
    );
    ws.tocsin_input(
        &[
            "accounts",
            "add",
            "--platform",
            "telegram",
            "--handle",
            "@h",
            "--name",
            "H",
            "--settings-file",
            "tg.toml",
            "--secret-stdin",
            // Nothing answers at the settings' address: stored untried.
            "--skip-check",
            "--group",
            "public",
        ],
        &[(
            "TOCSIN_SECRET_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )],
        "123456789:token\n",
    )
    .ok();
    let out = ws.tocsin(&["playbooks", "lint"]).ok();
    assert!(!out.contains("group `public`"), "{out}");
    assert!(out.contains("0 error(s), 2 warning(s)"), "{out}");
}

#[test]
fn an_over_long_variant_fails_lint_naming_the_platform_and_the_count() {
    let ws = Workspace::empty();
    minimal(&ws, "long", &format!("{{{{area}}}} {}", "word ".repeat(70)));
    let out = ws.tocsin(&["playbooks", "lint"]).fails();
    assert!(out.contains("step `alert` on X:"), "{out}");
    // Pointed at the step's template line in the playbook, with line and column.
    assert!(
        out.contains("playbooks/long.toml:18:12: error: step `alert` on X"),
        "{out}"
    );
    assert!(out.contains("of 280"), "{out}");
}

#[test]
fn render_prints_each_platform_with_its_count_and_limit() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "playbooks",
            "render",
            "boil-water",
            "--step",
            "alert",
            "--platform",
            "x",
            "--platform",
            "sms",
        ])
        .ok();
    assert!(out.contains("── X ──"), "{out}");
    assert!(out.contains("of 280 weighted characters"), "{out}");
    assert!(
        out.contains("── SMS ──") && out.contains("segment(s) of 4"),
        "{out}"
    );
    assert!(out.contains("#BoilWaterAdvisory"), "{out}");
    assert!(
        !out.contains("── Mastodon ──"),
        "only the platforms asked for:\n{out}"
    );
}

#[test]
fn plain_text_platforms_get_values_unescaped_and_html_email_escaped() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "playbooks",
            "render",
            "boil-water",
            "--var",
            "area=Smith & Sons <Lane>",
            "--platform",
            "mastodon",
            "--platform",
            "email",
        ])
        .ok();
    assert!(
        out.contains("BOIL-WATER ADVISORY for Smith & Sons <Lane>"),
        "{out}"
    );
    assert!(out.contains("Smith &amp; Sons &lt;Lane&gt;"), "{out}");
}

#[test]
fn a_value_of_the_wrong_type_names_the_variable_and_the_rule() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "playbooks",
            "render",
            "boil-water",
            "--var",
            "boil_minutes=ten",
            "--var",
            "cause=a meteor",
        ])
        .fails();
    assert!(
        out.contains("variable `boil_minutes`: `ten` is not a whole number"),
        "{out}"
    );
    assert!(
        out.contains("variable `cause`: `a meteor` is not one of the choices"),
        "{out}"
    );
}

#[test]
fn phi_typed_into_a_variable_blocks_approval_and_names_the_variable() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin(&[
            "playbooks",
            "render",
            "boil-water",
            "--platform",
            "mastodon",
            "--var",
            "area=the home of patient John Smith, SSN 123-45-6789",
        ])
        .ok();
    assert!(
        out.contains("BLOCKS APPROVAL: possible PHI (ssn) in `area`"),
        "{out}"
    );
    assert!(out.contains("BLOCKED"), "{out}");
}

#[test]
fn values_can_come_from_a_file() {
    let ws = Workspace::with_library();
    ws.write("vars.toml", "area = \"West Loop\"\nboil_minutes = 3\n");
    let out = ws
        .tocsin(&[
            "playbooks",
            "render",
            "boil-water",
            "--vars",
            "vars.toml",
            "--platform",
            "mastodon",
        ])
        .ok();
    assert!(
        out.contains("West Loop") && out.contains("3 minutes"),
        "{out}"
    );
}

#[test]
fn an_unknown_playbook_or_step_is_a_clear_error() {
    let ws = Workspace::with_library();
    assert!(ws
        .tocsin(&["playbooks", "render", "nope"])
        .fails()
        .contains("no playbook `nope`"));
    let out = ws
        .tocsin(&["playbooks", "render", "boil-water", "--step", "nope"])
        .fails();
    assert!(
        out.contains("no step `nope`") && out.contains("alert"),
        "{out}"
    );
}

#[test]
fn a_playbook_is_approved_until_a_template_changes() {
    let ws = Workspace::empty();
    minimal(&ws, "mini", "Boil water in {{area}}.");
    let list = ws.tocsin(&["playbooks", "list"]).ok();
    assert!(list.contains("unapproved"), "{list}");

    let hash1 = ws.tocsin(&["playbooks", "hash", "mini"]).ok();
    assert!(hash1.starts_with("sha256:"), "{hash1}");
    ws.tocsin(&["playbooks", "approve", "mini", "--by", "Dr. Legal Reviewer"])
        .ok();
    let list = ws.tocsin(&["playbooks", "list"]).ok();
    assert!(
        list.contains("mini") && list.contains(" approved "),
        "{list}"
    );

    ws.write("templates/mini/alert.hbs", "Boil ALL water in {{area}}.");
    let hash2 = ws.tocsin(&["playbooks", "hash", "mini"]).ok();
    assert_ne!(hash1.lines().next(), hash2.lines().next());
    let list = ws.tocsin(&["playbooks", "list"]).ok();
    assert!(list.contains("changed"), "{list}");

    ws.tocsin(&["playbooks", "approve", "mini", "--by", "Dr. Legal Reviewer"])
        .ok();
    assert!(ws
        .tocsin(&["playbooks", "list"])
        .ok()
        .contains(" approved "));
}

#[test]
fn a_playbook_that_does_not_lint_clean_cannot_be_approved() {
    let ws = Workspace::empty();
    minimal(&ws, "mini", &format!("{{{{area}}}} {}", "word ".repeat(70)));
    let out = ws
        .tocsin(&["playbooks", "approve", "mini", "--by", "legal"])
        .fails();
    assert!(out.contains("does not lint clean"), "{out}");
    assert!(ws
        .tocsin(&["playbooks", "list"])
        .ok()
        .contains("unapproved"));
}

#[test]
fn a_misspelled_variable_on_a_branch_the_examples_never_take_is_still_caught() {
    let ws = Workspace::empty();
    ws.write(
        "playbooks/branch.toml",
        &MINIMAL.replace("mini", "branch").replace(
            "example = \"North Side\"",
            "example = \"North Side\"\n\n[[variables]]\nname = \"note\"\ntype = \"text\"\nlabel = \"Note\"\nrequired = false",
        ),
    );
    ws.write(
        "templates/branch/alert.hbs",
        "Boil water in {{area}}.\n{{#if note}}Note: {{nte}}{{/if}}",
    );
    let out = ws.tocsin(&["playbooks", "lint"]).fails();
    assert!(out.contains("templates/branch/alert.hbs:2:"), "{out}");
    assert!(
        out.contains("`nte` is not a variable of playbook `branch`"),
        "{out}"
    );
}

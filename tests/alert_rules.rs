//! The Prometheus alert rules in `ops/prometheus/` are checked by Prometheus's own tool:
//! `promtool check rules` for their syntax, and `promtool test rules` for what they do
//! (each fires on series that should page and stays quiet on series that should not,
//! `ops/prometheus/tocsin-alerts.test.yml`).
//!
//! CI installs promtool (Debian's `prometheus` package) and sets
//! `TOCSIN_PROMTOOL=require`; elsewhere the test says loudly that it did not run.

use std::path::PathBuf;
use std::process::Command;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ops/prometheus")
}

/// Runs promtool with `args` in the rules' directory, or `None` when it is not installed
/// and not required.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool")
        .args(args)
        .current_dir(rules_dir())
        .output()
    {
        Ok(output) => Some(output),
        Err(error) => {
            assert!(
                std::env::var("TOCSIN_PROMTOOL").as_deref() != Ok("require"),
                "TOCSIN_PROMTOOL=require but promtool could not be run: {error}"
            );
            eprintln!(
                "SKIPPED: promtool is not installed ({error}); the alert rules were not checked"
            );
            None
        }
    }
}

fn assert_success(what: &str, output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn alert_rules_pass_promtools_syntax_check_and_their_unit_tests() {
    let Some(check) = promtool(&["check", "rules", "tocsin-alerts.yml"]) else {
        return;
    };
    assert_success("promtool check rules", &check);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("SUCCESS: 7 rules found"), "{stdout}");

    let Some(test) = promtool(&["test", "rules", "tocsin-alerts.test.yml"]) else {
        return;
    };
    assert_success("promtool test rules", &test);
}

#[test]
fn every_alert_rule_has_a_unit_test() {
    let rules = std::fs::read_to_string(rules_dir().join("tocsin-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(rules_dir().join("tocsin-alerts.test.yml")).unwrap();
    let names: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    for name in names {
        assert!(
            tests.contains(&format!("alertname: {name}")),
            "alert {name} has no test in tocsin-alerts.test.yml"
        );
    }
}

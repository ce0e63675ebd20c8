//! Configuration: defaults without a file, environment overrides, unknown fields refused.

use crate::support::Workspace;

#[test]
fn the_effective_config_shows_environment_overrides() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin_env(
            &["config"],
            &[("TOCSIN_LIMITS__MASTODON_MAX_CHARACTERS", "1000")],
        )
        .ok();
    assert!(out.contains("mastodon_max_characters = 1000"), "{out}");
    assert!(out.contains("health.example.gov"), "{out}");
}

#[test]
fn a_misspelled_config_field_stops_every_command_with_its_name() {
    let ws = Workspace::with_library();
    ws.write("tocsin.toml", "[phi]\nallowed_domain = [\"x.gov\"]\n");
    let out = ws.tocsin(&["playbooks", "list"]).fails();
    assert!(out.contains("allowed_domain"), "{out}");
}

#[test]
fn a_misspelled_environment_override_is_refused_with_the_variable_name() {
    let ws = Workspace::with_library();
    let out = ws
        .tocsin_env(&["config"], &[("TOCSIN_LIMITS__SMS_SEGMENTS", "3")])
        .fails();
    assert!(out.contains("TOCSIN_LIMITS__SMS_SEGMENTS"), "{out}");
}

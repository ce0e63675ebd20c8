//! Command-line conventions IT staff expect: `--version` names the build's git revision,
//! shell completions and a man page come from the binary, and logs carry no colour codes
//! when `NO_COLOR` is set or standard error is not a terminal.

use crate::support::Workspace;

#[test]
fn the_version_names_the_package_version_and_the_git_revision() {
    let out = Workspace::empty().tocsin(&["--version"]).ok();
    let version = out.trim();
    assert!(version.starts_with("tocsin 0."), "{version}");
    let rev = version
        .split('(')
        .nth(1)
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no revision in {version}"));
    assert!(!rev.is_empty(), "{version}");
}

#[test]
fn completions_and_the_man_page_come_from_the_binary_even_with_a_broken_config() {
    let ws = Workspace::empty();
    ws.write("tocsin.toml", "this is not toml = = =");
    let bash = ws.tocsin(&["completions", "bash"]).ok();
    assert!(
        bash.contains("_tocsin()") && bash.contains("playbooks"),
        "{bash}"
    );
    let zsh = ws.tocsin(&["completions", "zsh"]).ok();
    assert!(zsh.contains("#compdef tocsin"), "{zsh}");
    let man = ws.tocsin(&["man"]).ok();
    assert!(
        man.contains(".TH tocsin 1") && man.contains("SUBCOMMANDS"),
        "{man}"
    );
    assert!(ws.tocsin(&["completions", "tcsh"]).fails().contains("tcsh"));
}

#[test]
fn log_lines_carry_no_colour_codes_off_a_terminal_or_with_no_color() {
    let ws = Workspace::with_library();
    for env in [
        vec![("TOCSIN_LOG__LEVEL", "debug")],
        vec![("TOCSIN_LOG__LEVEL", "debug"), ("NO_COLOR", "1")],
    ] {
        let run = ws.tocsin_env(&["playbooks", "list"], &env);
        run.ok();
        let err = run.stderr();
        assert!(!err.is_empty(), "debug logging printed nothing to check");
        assert!(!err.contains('\u{1b}'), "colour codes in: {err}");
    }
}

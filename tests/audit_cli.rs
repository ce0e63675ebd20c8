//! `tocsin audit ...`: what compliance runs. Approvals land in the chain; the live log
//! and its export verify; a tampered or malformed export fails, naming where.

use crate::support::Workspace;

/// A workspace whose audit log holds a few entries (playbook approvals).
fn workspace_with_history() -> Workspace {
    let ws = Workspace::with_library();
    for (id, who) in [
        ("boil-water", "Legal: J. Rivera"),
        ("extreme-heat", "Clinical: Dr. Osei"),
        ("boil-water", "Legal: J. Rivera"),
    ] {
        ws.tocsin(&["playbooks", "approve", id, "--by", who]).ok();
    }
    ws
}

#[test]
fn approvals_are_in_the_live_log_and_it_verifies() {
    let ws = workspace_with_history();
    let key = ws.tocsin(&["audit", "key"]).ok();
    assert!(key.trim().contains('+'), "a signed-note public key: {key}");
    let out = ws.tocsin(&["audit", "verify"]).ok();
    assert!(out.contains("verifies: 3 entries"), "{out}");
    let tail = ws.tocsin(&["audit", "tail", "--no-follow"]).ok();
    assert_eq!(tail.matches("playbook.approve").count(), 3, "{tail}");
}

#[test]
fn an_export_verifies_offline_and_a_tampered_one_names_the_first_bad_entry() {
    let ws = workspace_with_history();
    let key = ws.tocsin(&["audit", "key"]).ok();
    ws.tocsin(&[
        "audit",
        "export",
        "--format",
        "jsonl",
        "--output",
        "export.jsonl",
    ])
    .ok();
    ws.tocsin(&[
        "audit",
        "verify",
        "--file",
        "export.jsonl",
        "--public-key",
        key.trim(),
    ])
    .ok();

    let text = std::fs::read_to_string(ws.path().join("export.jsonl")).unwrap();
    let tampered = text.replacen("Legal: J. Rivera", "Legal: J. Rivers", 1);
    assert_ne!(text, tampered);
    ws.write("tampered.jsonl", &tampered);
    let run = ws.tocsin(&[
        "audit",
        "verify",
        "--file",
        "tampered.jsonl",
        "--public-key",
        key.trim(),
    ]);
    let out = run.fails();
    assert_eq!(run.code(), 1, "{out}");
    assert!(
        out.contains("first bad entry: 0") || out.contains("entry 0"),
        "{out}"
    );

    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{not json");
    ws.write("broken.jsonl", &lines.join("\n"));
    let out = ws
        .tocsin(&[
            "audit",
            "verify",
            "--file",
            "broken.jsonl",
            "--public-key",
            key.trim(),
        ])
        .fails();
    assert!(out.contains("line 3"), "{out}");
}

#[test]
fn a_filtered_csv_export_holds_only_the_matching_entries() {
    let ws = workspace_with_history();
    let out = ws
        .tocsin(&[
            "audit",
            "export",
            "--format",
            "csv",
            "--playbook",
            "extreme-heat",
        ])
        .ok();
    let rows: Vec<&str> = out.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0].contains("extreme-heat"), "{out}");
}

#[test]
fn a_retention_purge_is_itself_audited_and_the_chain_still_verifies() {
    let ws = workspace_with_history();
    let out = ws.tocsin(&["retention", "purge"]).ok();
    assert!(out.contains("older than 2196 days"), "{out}");
    let tail = ws.tocsin(&["audit", "tail", "--no-follow"]).ok();
    assert!(tail.contains("retention.purge"), "{tail}");
    assert!(ws
        .tocsin(&["audit", "verify"])
        .ok()
        .contains("verifies: 4 entries"));
}

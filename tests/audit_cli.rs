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

/// An export with its checkpoint lines removed, entry 1 edited and every hash from there
/// on recomputed: what a database writer without the signing key can make.
fn rewrite_without_checkpoints(text: &str) -> String {
    use tocsin_audit::export::ExportEntry;
    let mut out = String::new();
    let mut prev = tocsin_audit::ChainHash::GENESIS;
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        match value["type"].as_str() {
            Some("checkpoint") => continue,
            Some("entry") => {
                let mut fields = value.as_object().unwrap().clone();
                fields.remove("type");
                let mut e: ExportEntry =
                    serde_json::from_value(serde_json::Value::Object(fields)).unwrap();
                if e.seq == 1 {
                    e.actor = "mallory".into();
                }
                let (entry, _, _) = e.to_entry().unwrap();
                let hash = tocsin_audit::chain_hash(&prev, &entry.canonical_bytes());
                let rewritten = ExportEntry::new(&entry, &prev, &hash);
                let mut v = serde_json::to_value(&rewritten).unwrap();
                v["type"] = "entry".into();
                out.push_str(&v.to_string());
                prev = hash;
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn an_export_rewritten_without_its_checkpoints_fails_and_a_witness_catches_it_too() {
    let ws = Workspace::with_library();
    let witness = ws.path().join("witness.txt");
    let witness = witness.to_str().unwrap();
    let env = [
        ("TOCSIN_AUDIT__CHECKPOINT_EVERY_ENTRIES", "2"),
        ("TOCSIN_AUDIT__WITNESS_FILE", witness),
    ];
    for _ in 0..5 {
        ws.tocsin_env(
            &[
                "playbooks",
                "approve",
                "boil-water",
                "--by",
                "Legal: J. Rivera",
            ],
            &env,
        )
        .ok();
    }
    let notes = tocsin_audit::read_witness(&std::fs::read_to_string(witness).unwrap()).unwrap();
    assert_eq!(notes.len(), 2, "checkpoints at 2 and 4 entries");
    let live = ws
        .tocsin_env(&["audit", "verify", "--witness", witness], &env)
        .ok();
    assert!(live.contains("verifies: 5 entries"), "{live}");

    let key = ws.tocsin(&["audit", "key"]).ok();
    ws.tocsin_env(&["audit", "export", "--output", "export.jsonl"], &env)
        .ok();
    let verify = |file: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "audit",
            "verify",
            "--file",
            file,
            "--public-key",
            key.trim(),
        ];
        args.extend_from_slice(extra);
        ws.tocsin_env(&args, env)
    };
    verify("export.jsonl", &["--witness", witness], &env).ok();

    let text = std::fs::read_to_string(ws.path().join("export.jsonl")).unwrap();
    ws.write("rewritten.jsonl", &rewrite_without_checkpoints(&text));
    let run = verify("rewritten.jsonl", &[], &env);
    let out = run.fails();
    assert_eq!(run.code(), 1, "{out}");
    assert!(out.contains("first bad entry: 0"), "{out}");
    assert!(out.contains("not covered by a signed checkpoint"), "{out}");

    // With the default interval (1000 entries) the short log passes on its own; the
    // witness's copy of the checkpoint at 2 does not.
    let run = verify("rewritten.jsonl", &["--witness", witness], &[]);
    let out = run.fails();
    assert_eq!(run.code(), 1, "{out}");
    assert!(out.contains("witness checkpoint #1"), "{out}");
}

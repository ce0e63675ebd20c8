//! JSONL exports verify offline, and tampering with an export is caught like tampering
//! with the database; a line that is not valid JSON is named by its number.

use crate::support::*;
use std::collections::BTreeMap;
use tocsin_audit::export::{
    verify_jsonl, verify_jsonl_with, CsvWriter, ExportError, ExportHeader, JsonlWriter,
    EXPORT_FORMAT,
};
use tocsin_audit::{ChainHash, CheckpointInterval, MemoryLog, Problem};

fn header(partial: bool) -> ExportHeader {
    ExportHeader {
        format: EXPORT_FORMAT.into(),
        origin: ORIGIN.into(),
        public_key: signer().verifier().to_string(),
        partial,
        filters: BTreeMap::new(),
        exported_at: "2026-05-02T00:00:00.000000Z".into(),
    }
}

fn export(log: &MemoryLog) -> String {
    let mut w = JsonlWriter::start(Vec::new(), &header(false)).unwrap();
    let mut prev = ChainHash::GENESIS;
    for (entry, hash) in &log.entries {
        w.entry(entry, &prev, hash).unwrap();
        prev = *hash;
    }
    for note in &log.checkpoints {
        w.checkpoint(note).unwrap();
    }
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn verify(text: &str) -> Result<tocsin_audit::ExportReport, ExportError> {
    verify_jsonl(text.as_bytes(), &signer().verifier(), None)
}

fn broken_at(text: &str) -> u64 {
    match verify(text) {
        Err(ExportError::Broken(b)) => b.seq,
        other => panic!("expected a chain break, got {other:?}"),
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn join(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn a_full_export_verifies_offline_with_the_public_key() {
    let text = export(&log_with_checkpoints());
    let report = verify(&text).unwrap();
    assert_eq!(report.entries, 20);
    assert_eq!(report.checkpoints, 3);
    assert!(report.full.is_some());
}

#[test]
fn an_export_checked_with_another_key_fails_on_its_first_checkpoint() {
    let text = export(&log_with_checkpoints());
    let err = verify_jsonl(text.as_bytes(), &other_signer().verifier(), None).unwrap_err();
    assert!(
        matches!(err, ExportError::Broken(ref b) if b.seq == 0),
        "{err}"
    );
}

#[test]
fn an_invalid_json_line_is_reported_with_its_line_number() {
    let mut l = lines(&export(&log_with_checkpoints()));
    l[5] = l[5].replacen('{', "", 1);
    match verify(&join(&l)) {
        Err(ExportError::Line { line, message }) => {
            assert_eq!(line, 6);
            assert!(message.contains("not valid JSON"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_json_line_of_the_wrong_shape_is_reported_with_its_line_number() {
    let mut l = lines(&export(&log_with_checkpoints()));
    l[3] = r#"{"type":"entry","seq":"two"}"#.into();
    match verify(&join(&l)) {
        Err(ExportError::Line { line, message }) => {
            assert_eq!(line, 4);
            assert!(message.contains("not an export line"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_export_without_a_header_is_refused_at_line_one() {
    let l = lines(&export(&log_with_checkpoints()));
    match verify(&join(&l[1..])) {
        Err(ExportError::Line { line: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_an_export_names_its_entry() {
    let mut l = lines(&export(&log_with_checkpoints()));
    // Line 1 is the header, so entry 4 is line 6 (index 5).
    l[5] = l[5].replacen("\"alice\"", "\"alicf\"", 1);
    assert_eq!(broken_at(&join(&l)), 4);
}

#[test]
fn a_deleted_export_line_names_the_missing_entry() {
    let mut l = lines(&export(&log_with_checkpoints()));
    l.remove(8);
    assert_eq!(broken_at(&join(&l)), 7);
}

#[test]
fn swapped_export_lines_name_the_first_of_them() {
    let mut l = lines(&export(&log_with_checkpoints()));
    l.swap(3, 4);
    assert_eq!(broken_at(&join(&l)), 2);
}

#[test]
fn an_inserted_export_line_is_detected() {
    let mut l = lines(&export(&log_with_checkpoints()));
    let copy = l[3].clone();
    l.insert(4, copy);
    assert_eq!(broken_at(&join(&l)), 3);
}

#[test]
fn a_truncated_export_names_the_first_removed_entry() {
    let mut l = lines(&export(&log_with_checkpoints()));
    // Keep the header and entries 0..12, then the checkpoints.
    let checkpoints: Vec<String> = l
        .iter()
        .filter(|x| x.contains("\"checkpoint\""))
        .cloned()
        .collect();
    l.truncate(13);
    l.extend(checkpoints);
    assert_eq!(broken_at(&join(&l)), 12);
}

#[test]
fn an_export_with_a_checkpoint_re_signed_by_another_key_fails() {
    let mut log = log_with_checkpoints();
    let c = tocsin_audit::checkpoint::parse_unverified(&log.checkpoints[0]).unwrap();
    log.checkpoints[0] = c.sign(&other_signer());
    assert_eq!(broken_at(&export(&log)), 0);
}

#[test]
fn an_export_rolled_back_to_an_older_checkpoint_fails_against_the_trusted_one() {
    let full = log_with_checkpoints();
    let trusted = full.checkpoints[2].clone();
    let mut log = full.clone();
    log.entries.truncate(10);
    log.checkpoints.truncate(2);
    let text = export(&log);
    let err = verify_jsonl(text.as_bytes(), &signer().verifier(), Some(&trusted)).unwrap_err();
    assert!(
        matches!(err, ExportError::Broken(ref b) if b.seq == 10),
        "{err}"
    );
}

#[test]
fn a_partial_export_proves_the_entries_it_holds() {
    let log = log_with_checkpoints();
    let mut w = JsonlWriter::start(Vec::new(), &header(true)).unwrap();
    let picked = [3usize, 4, 9, 14, 17];
    for &i in &picked {
        let prev = if i == 0 {
            ChainHash::GENESIS
        } else {
            log.entries[i - 1].1
        };
        w.entry(&log.entries[i].0, &prev, &log.entries[i].1)
            .unwrap();
    }
    for note in &log.checkpoints {
        w.checkpoint(note).unwrap();
    }
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    let report = verify(&text).unwrap();
    assert_eq!(report.entries, 5);
    assert_eq!(report.checkpoints, 3);
    assert!(report.full.is_none());

    let tampered = text.replacen("\"bob\"", "\"eve\"", 1);
    match verify(&tampered) {
        Err(ExportError::Broken(b)) => {
            // The first `bob` in the export is entry 3's actor.
            assert_eq!(b.seq, 3);
            assert_eq!(b.problem, Problem::HashMismatch);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_export_has_a_header_row_and_one_row_per_entry() {
    let log = log_with_checkpoints();
    let mut w = CsvWriter::start(Vec::new()).unwrap();
    let mut prev = ChainHash::GENESIS;
    for (e, h) in &log.entries {
        w.entry(e, &prev, h).unwrap();
        prev = *h;
    }
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    let mut l = out.lines();
    assert!(l
        .next()
        .unwrap()
        .starts_with("seq,time,actor,action,subjects"));
    let first = l.next().unwrap();
    assert!(
        first.starts_with(
            "0,2026-05-01T08:00:00.001000Z,alice,delivery.attempt,account=acct0;message=m0,failed"
        ),
        "{first}"
    );
    assert_eq!(out.lines().count(), 21);
}

/// The log of [`log_with_checkpoints`] with entry 7's actor changed, every hash from
/// there on recomputed, and no checkpoints: a tamperer's rewrite without the key.
fn rewritten_without_checkpoints() -> MemoryLog {
    let original = log_with_checkpoints();
    let mut log = MemoryLog::new();
    for (entry, _) in &original.entries {
        let mut event = entry.event.clone();
        if entry.seq == 7 {
            event.actor = "mallory".into();
        }
        log.append(entry.time, event);
    }
    log
}

#[test]
fn an_export_re_hashed_after_an_edit_with_its_checkpoints_removed_fails_under_the_interval() {
    // The fixture signs every 5 entries and leaves the last 5 unsigned.
    let interval = CheckpointInterval {
        entries: 6,
        seconds: 3600,
    };
    let key = signer().verifier();
    let honest = export(&log_with_checkpoints());
    let report = verify_jsonl_with(honest.as_bytes(), &key, &[], Some(interval)).unwrap();
    assert_eq!(report.full.unwrap().unsigned_tail(), 5);

    let forged = export(&rewritten_without_checkpoints());
    assert!(
        verify(&forged).is_ok(),
        "without the interval, a rewritten log with no checkpoints looks whole"
    );
    match verify_jsonl_with(forged.as_bytes(), &key, &[], Some(interval)) {
        Err(ExportError::Broken(b)) => {
            assert_eq!(b.seq, 0, "{b}");
            assert!(
                matches!(b.problem, Problem::Unsigned { count: 20, .. }),
                "{b}"
            );
        }
        other => panic!("expected the unsigned tail to fail, got {other:?}"),
    }
}

#[test]
fn an_unsigned_tail_spanning_the_interval_in_time_fails() {
    let s = signer();
    let mut log = MemoryLog::new();
    log.append(at(0), event(0));
    log.checkpoint(at(0), &s);
    log.append(at(10), event(1));
    log.append(at(400), event(2));
    let interval = CheckpointInterval {
        entries: 1000,
        seconds: 300,
    };
    match verify_jsonl_with(export(&log).as_bytes(), &s.verifier(), &[], Some(interval)) {
        Err(ExportError::Broken(b)) => {
            assert_eq!(b.seq, 1, "{b}");
            assert!(
                matches!(
                    b.problem,
                    Problem::Unsigned {
                        count: 2,
                        seconds: 400,
                        ..
                    }
                ),
                "{b}"
            );
        }
        other => panic!("expected the unsigned tail to fail, got {other:?}"),
    }
    // Within the interval, the same tail is what the writer leaves between checkpoints.
    log.entries.pop();
    assert!(verify_jsonl_with(export(&log).as_bytes(), &s.verifier(), &[], Some(interval)).is_ok());
}

#[test]
fn a_witness_checkpoint_catches_an_export_rewritten_behind_it() {
    let witness: Vec<(String, String)> = log_with_checkpoints()
        .checkpoints
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("witness checkpoint #{}", i + 1), n.clone()))
        .collect();
    let forged = export(&rewritten_without_checkpoints());
    match verify_jsonl_with(forged.as_bytes(), &signer().verifier(), &witness, None) {
        Err(ExportError::Broken(b)) => {
            assert_eq!(b.seq, 5, "{b}");
            assert!(
                matches!(b.problem, Problem::CheckpointHead { size: 10, ref which } if which == "witness checkpoint #2"),
                "{b}"
            );
        }
        other => panic!("expected the witness to catch the rewrite, got {other:?}"),
    }
}

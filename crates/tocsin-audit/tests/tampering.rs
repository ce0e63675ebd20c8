//! The tamper suite: every kind of edit is detected and the first bad entry is named.

use crate::support::*;
use tocsin_audit::checkpoint::parse_unverified;
use tocsin_audit::{verify_log, ChainBreak, MemoryLog, Problem};

fn verify(log: &MemoryLog, trusted: Option<&str>) -> Result<tocsin_audit::VerifiedLog, ChainBreak> {
    verify_log(
        &signer().verifier(),
        &log.entries,
        &log.checkpoints,
        trusted,
    )
}

#[test]
fn an_untouched_log_verifies_with_every_checkpoint() {
    let log = log_with_checkpoints();
    let ok = verify(&log, log.checkpoints.last().map(String::as_str)).unwrap();
    assert_eq!(ok.entries, 20);
    assert_eq!(ok.checkpoints, 4);
    assert_eq!(ok.signed_size, 15);
    assert_eq!(ok.unsigned_tail(), 5);
    assert_eq!(ok.head, log.head());
}

#[test]
fn an_empty_log_verifies() {
    assert_eq!(verify(&MemoryLog::new(), None).unwrap().entries, 0);
}

#[test]
fn a_flipped_byte_in_an_entry_names_that_entry() {
    let mut log = log_with_checkpoints();
    log.entries[7].0.event.actor = "mallory".into();
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 7);
    assert_eq!(err.problem, Problem::HashMismatch);
}

#[test]
fn an_edit_with_every_later_hash_recomputed_is_caught_by_the_next_checkpoint() {
    let mut log = log_with_checkpoints();
    log.entries[7].0.event.actor = "mallory".into();
    // The attacker rewrites every hash from 7 on, so every link holds.
    let mut prev = log.entries[6].1;
    for (entry, hash) in log.entries.iter_mut().skip(7) {
        *hash = tocsin_audit::chain_hash(&prev, &entry.canonical_bytes());
        prev = *hash;
    }
    let err = verify(&log, None).unwrap_err();
    // Entries 0..5 are covered by the checkpoint at 5, which still holds.
    assert_eq!(err.seq, 5, "{err}");
    assert!(
        matches!(err.problem, Problem::CheckpointHead { size: 10, .. }),
        "{err}"
    );
}

#[test]
fn a_deleted_entry_names_the_missing_sequence_number() {
    let mut log = log_with_checkpoints();
    log.entries.remove(12);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 12);
    assert_eq!(err.problem, Problem::Missing { found: 13 });
}

#[test]
fn two_swapped_entries_name_the_first_of_them() {
    let mut log = log_with_checkpoints();
    log.entries.swap(3, 4);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 3);
    assert_eq!(err.problem, Problem::Missing { found: 4 });
}

#[test]
fn swapped_contents_under_unchanged_sequence_numbers_name_the_first_of_them() {
    let mut log = log_with_checkpoints();
    let a = log.entries[3].0.event.clone();
    log.entries[3].0.event = log.entries[4].0.event.clone();
    log.entries[4].0.event = a;
    assert_eq!(verify(&log, None).unwrap_err().seq, 3);
}

#[test]
fn an_inserted_entry_is_detected_where_it_was_inserted() {
    let mut log = log_with_checkpoints();
    let mut forged = log.entries[8].clone();
    forged.0.event.actor = "mallory".into();
    log.entries.insert(9, forged);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 9);
    assert_eq!(err.problem, Problem::OutOfOrder { found: 8 });
}

#[test]
fn an_inserted_entry_with_renumbered_successors_is_detected_where_it_was_inserted() {
    let mut log = log_with_checkpoints();
    let mut forged = log.entries[8].clone();
    forged.0.event.actor = "mallory".into();
    log.entries.insert(9, forged);
    for (i, (entry, _)) in log.entries.iter_mut().enumerate() {
        entry.seq = i as u64;
    }
    assert_eq!(verify(&log, None).unwrap_err().seq, 9);
}

#[test]
fn a_truncated_tail_below_a_checkpoint_names_the_first_removed_entry() {
    let mut log = log_with_checkpoints();
    log.entries.truncate(13);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 13);
    assert!(
        matches!(err.problem, Problem::Truncated { size: 15, .. }),
        "{err}"
    );
}

#[test]
fn a_truncated_unsigned_tail_is_caught_by_the_checkpoint_kept_outside() {
    let mut log = log_with_checkpoints();
    let s = signer();
    let trusted = log.checkpoint(at(30), &s);
    log.checkpoints.pop();
    log.entries.truncate(18);
    let err = verify(&log, Some(&trusted)).unwrap_err();
    assert_eq!(err.seq, 18);
    assert!(
        matches!(err.problem, Problem::Truncated { size: 20, .. }),
        "{err}"
    );
}

#[test]
fn a_checkpoint_re_signed_with_another_key_is_refused() {
    let mut log = log_with_checkpoints();
    let c = parse_unverified(&log.checkpoints[1]).unwrap();
    log.checkpoints[1] = c.sign(&other_signer());
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 5, "{err}");
    assert!(
        matches!(
            err.problem,
            Problem::CheckpointInvalid {
                index: 2,
                size: 10,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_rollback_to_an_older_checkpoint_is_detected() {
    let mut log = log_with_checkpoints();
    // Restore an old state: log cut back to the checkpoint at 10, newer checkpoints gone,
    // the old checkpoint re-appended as the newest.
    let old = log.checkpoints[1].clone();
    log.entries.truncate(10);
    log.checkpoints.truncate(3);
    log.checkpoints.push(old);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 10, "{err}");
    assert!(
        matches!(err.problem, Problem::Truncated { size: 15, .. }),
        "{err}"
    );
}

#[test]
fn a_whole_rollback_is_caught_against_the_checkpoint_kept_outside() {
    let full = log_with_checkpoints();
    let trusted = full.checkpoints.last().unwrap().clone();
    let mut log = full.clone();
    log.entries.truncate(10);
    log.checkpoints.truncate(2);
    assert!(
        verify(&log, None).is_ok(),
        "without outside evidence a clean rollback looks whole"
    );
    let err = verify(&log, Some(&trusted)).unwrap_err();
    assert_eq!(err.seq, 10);
    assert!(
        matches!(err.problem, Problem::Truncated { size: 15, .. }),
        "{err}"
    );
}

#[test]
fn an_old_checkpoint_appended_after_a_newer_one_is_reported_as_going_backwards() {
    let mut log = log_with_checkpoints();
    let old = log.checkpoints[0].clone();
    log.checkpoints.push(old);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 5);
    assert!(
        matches!(err.problem, Problem::CheckpointBackwards { index: 4, .. }),
        "{err}"
    );
}

#[test]
fn a_forged_checkpoint_body_is_refused() {
    let mut log = log_with_checkpoints();
    log.checkpoints[2] = log.checkpoints[2].replacen("\n15\n", "\n14\n", 1);
    let err = verify(&log, None).unwrap_err();
    assert_eq!(err.seq, 10);
    assert!(
        matches!(err.problem, Problem::CheckpointInvalid { index: 3, .. }),
        "{err}"
    );
}

#[test]
fn the_earliest_problem_wins_when_there_are_several() {
    let mut log = log_with_checkpoints();
    log.entries[2].0.event.action = "edited".into();
    log.entries.truncate(12);
    assert_eq!(verify(&log, None).unwrap_err().seq, 2);
}

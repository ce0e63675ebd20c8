//! Property tests: any log built by appending verifies, and any single edit, deletion or
//! swap is caught at or before the entry that was touched.

use crate::support::*;
use proptest::prelude::*;
use tocsin_audit::{verify_log, AuditEvent, MemoryLog};

fn arb_event() -> impl Strategy<Value = AuditEvent> {
    (
        "[a-z\"\\\\\n é]{0,8}",
        "[a-z.]{1,12}",
        proptest::collection::btree_map("[a-z]{1,6}", "[ -~]{0,6}", 0..3),
        proptest::option::of("[a-z]{1,5}"),
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
    )
        .prop_map(|(actor, action, subjects, outcome, exercise, payload)| {
            let mut e = AuditEvent::new(actor, action).exercise(exercise);
            e.subjects = subjects;
            e.outcome = outcome;
            match payload {
                Some(p) => e.payload(&p),
                None => e,
            }
        })
}

fn build(events: &[AuditEvent], every: usize) -> MemoryLog {
    let s = signer();
    let mut log = MemoryLog::new();
    for (i, e) in events.iter().enumerate() {
        log.append(at(i as i64), e.clone());
        if (i + 1) % every == 0 {
            log.checkpoint(at(i as i64), &s);
        }
    }
    log
}

proptest! {
    // Signing is slow in unoptimised test builds; 64 cases still cover every edit kind.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_appended_log_verifies(events in proptest::collection::vec(arb_event(), 0..40), every in 1usize..10) {
        let log = build(&events, every);
        let ok = verify_log(&signer().verifier(), &log.entries, &log.checkpoints, None).unwrap();
        prop_assert_eq!(ok.entries, events.len() as u64);
    }

    #[test]
    fn any_edited_field_is_caught_at_or_before_the_edited_entry(
        events in proptest::collection::vec(arb_event(), 1..40),
        pick in any::<prop::sample::Index>(),
        field in 0u8..5,
    ) {
        let mut log = build(&events, 7);
        let i = pick.index(events.len());
        let e = &mut log.entries[i].0;
        match field {
            0 => e.event.actor.push('x'),
            1 => e.event.exercise = !e.event.exercise,
            2 => { e.event.subjects.insert("zz".into(), "1".into()); }
            3 => e.time += chrono::Duration::microseconds(1),
            _ => e.event.payload_sha256 = Some("00".into()),
        }
        let err = verify_log(&signer().verifier(), &log.entries, &log.checkpoints, None).unwrap_err();
        prop_assert!(err.seq <= i as u64, "{} > {}", err.seq, i);
    }

    #[test]
    fn any_deleted_or_swapped_entry_is_caught(
        events in proptest::collection::vec(arb_event(), 2..40),
        pick in any::<prop::sample::Index>(),
        delete in any::<bool>(),
    ) {
        let mut log = build(&events, 5);
        let i = pick.index(events.len() - 1);
        if delete { log.entries.remove(i); } else { log.entries.swap(i, i + 1); }
        let err = verify_log(&signer().verifier(), &log.entries, &log.checkpoints, None).unwrap_err();
        prop_assert!(err.seq <= i as u64 + 1);
    }
}

//! Arbitrary bytes as a JSONL audit export, verified offline with a fixed public key:
//! `tocsin_audit::verify_jsonl` must accept or name what is wrong, never panic. The same
//! text also goes through the checkpoint-note parsers and the public-key parser, which
//! the verifier and `tocsin audit verify --public-key` use. The seeds are real exports
//! signed with that key (see `examples/audit_seeds.rs`), so mutations reach the chain and
//! signature checks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_audit::checkpoint::{open_checkpoint, parse_unverified};
use tocsin_audit::{verify_jsonl, NoteVerifier};

fuzz_target!(|data: &[u8]| {
    let key = tocsin_fuzz::audit_verifier();
    match verify_jsonl(data, key, None) {
        Ok(report) => {
            if let Some(full) = &report.full {
                assert_eq!(full.entries, report.entries);
                assert!(full.signed_size <= full.entries);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_unverified(text);
        let _ = open_checkpoint(text, key);
        let _ = NoteVerifier::parse(text);
    }
});

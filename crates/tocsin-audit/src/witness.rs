//! The witness's copy of the checkpoints: signed notes written one after another.
//!
//! Each checkpoint the log signs is also published where the application cannot
//! rewrite it (`[audit] witness_file`, an append-only file on another mount, or
//! `witness_url`, a webhook whose receiver keeps the bodies). Both produce the same
//! text: the signed notes, each exactly as signed, one after another. [`read_witness`]
//! splits that text back into notes; the verifier then holds the log to every one of
//! them, so a database rewritten or rolled back behind the witness's back is caught.

/// Why a witness file could not be read as notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("witness line {line}: {message}")]
pub struct WitnessError {
    /// The line where the problem is, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits a witness's text into its signed notes, in the order written. A note is its
/// body lines, a blank line, and one or more signature lines (starting with an em dash).
pub fn read_witness(text: &str) -> Result<Vec<String>, WitnessError> {
    let mut notes = Vec::new();
    let mut note = String::new();
    let mut start = 1;
    // 0: in the body, 1: after the blank line, 2: in the signatures.
    let mut state = 0;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let signature = line.starts_with("\u{2014} ");
        if state == 2 && !signature {
            notes.push(std::mem::take(&mut note));
            state = 0;
        }
        match state {
            0 if line.is_empty() && note.is_empty() => continue,
            0 if note.is_empty() => start = number,
            0 if line.is_empty() => state = 1,
            1 if signature => state = 2,
            1 => {
                return Err(WitnessError {
                    line: number,
                    message: "a checkpoint's blank line is not followed by a signature".into(),
                })
            }
            _ => {}
        }
        note.push_str(line);
        note.push('\n');
    }
    match state {
        2 => notes.push(note),
        _ if note.is_empty() => {}
        _ => {
            return Err(WitnessError {
                line: start,
                message: "the checkpoint starting here has no signature (cut short?)".into(),
            })
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{open_checkpoint, Checkpoint, NoteSigner};
    use crate::entry::ChainHash;
    use chrono::{TimeZone, Utc};
    use ed25519_dalek::SigningKey;

    fn note(size: u64) -> (String, NoteSigner) {
        let s = NoteSigner::new("w.example/audit", SigningKey::from_bytes(&[5; 32]));
        let n = Checkpoint {
            origin: "w.example/audit".into(),
            size,
            head: ChainHash([size as u8; 32]),
            time: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        }
        .sign(&s);
        (n, s)
    }

    #[test]
    fn notes_written_one_after_another_come_back_as_signed() {
        let (a, s) = note(5);
        let (b, _) = note(10);
        let notes = read_witness(&format!("{a}{b}")).unwrap();
        assert_eq!(notes, vec![a.clone(), b]);
        assert_eq!(open_checkpoint(&notes[0], &s.verifier()).unwrap().size, 5);
        assert_eq!(read_witness("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_note_cut_short_is_named_by_its_first_line() {
        let (a, _) = note(5);
        let (b, _) = note(10);
        let cut = &b[..b.find("\n\n").unwrap()];
        let err = read_witness(&format!("{a}{cut}")).unwrap_err();
        assert_eq!(err.line, 7, "{err}");
    }
}

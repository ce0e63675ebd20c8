//! The verifier: replays every link of the chain and checks every checkpoint.
//!
//! It streams (entries are pushed one at a time, so a million-entry log never has to be
//! in memory) and stops at the first break, naming the first bad sequence number and
//! what is wrong in words a compliance reviewer can act on. Checkpoints are checked with
//! `verify_strict`, must never go backwards, and must match the chain at their size; a
//! log shorter than a checkpoint, or than the trusted checkpoint kept outside the
//! database, has been truncated or rolled back.
//!
//! Given the writer's checkpoint interval ([`CheckpointInterval`]), the verifier also
//! refuses an unsigned tail longer than the writer could have left: the writer signs a
//! checkpoint in the same transaction as every `entries`-th entry and as the first entry
//! written `seconds` after the last checkpoint, so entries past either bound without a
//! checkpoint mean checkpoints were removed (and the entries behind them may have been
//! rewritten and re-hashed).

use chrono::{DateTime, Utc};

use crate::checkpoint::{open_checkpoint, Checkpoint, NoteVerifier};
use crate::entry::{chain_hash, AuditEntry, ChainHash};

/// How often the writer signs a checkpoint (`[audit] checkpoint_every_entries` and
/// `checkpoint_every_seconds`): the bound on a log's unsigned tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInterval {
    /// A checkpoint is signed with every this-many-th entry after the last one.
    pub entries: u64,
    /// ... and with the first entry written this many seconds after the last one.
    pub seconds: u64,
}

impl CheckpointInterval {
    /// Whether an entry written at `time` would have made the writer sign a checkpoint,
    /// `count` entries after the last checkpoint (signed at `since`). The same test the
    /// writer makes in `tocsin-store`.
    pub fn due(&self, count: u64, since: DateTime<Utc>, time: DateTime<Utc>) -> bool {
        count >= self.entries.max(1) || (time - since).num_seconds() >= self.seconds as i64
    }
}

/// Where the log first stops holding, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {problem}")]
pub struct ChainBreak {
    /// The first sequence number that cannot be trusted.
    pub seq: u64,
    /// What is wrong there.
    pub problem: Problem,
}

/// What is wrong with the log at the first bad sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A sequence number is absent: the entry was deleted.
    #[error("this entry is missing (the next entry present is {found}); an entry was deleted")]
    Missing {
        /// The sequence number found in its place.
        found: u64,
    },
    /// An earlier sequence number appears again: rows were moved, duplicated or inserted.
    #[error("entry {found} appears again here; entries were moved, duplicated or inserted")]
    OutOfOrder {
        /// The sequence number found in its place.
        found: u64,
    },
    /// Recomputing the entry's hash does not give the recorded hash.
    #[error(
        "its content does not match its recorded hash: the entry (or its hash) was changed, \
         or an entry before it was altered"
    )]
    HashMismatch,
    /// A stored row cannot be read back as an entry, or its filter columns disagree
    /// with the entry.
    #[error("the stored row is unreadable or inconsistent: {reason}")]
    Unreadable {
        /// What is wrong with the row.
        reason: String,
    },
    /// An export line's `prev_hash` is not the hash of the entry before it.
    #[error("its recorded previous hash is not the hash of the entry before it")]
    PrevMismatch,
    /// A checkpoint could not be read or its signature does not hold.
    #[error("checkpoint #{index} (covering {size} entries) cannot be trusted: {reason}")]
    CheckpointInvalid {
        /// Its position among the stored checkpoints (from 1).
        index: usize,
        /// The size it claims, if readable.
        size: u64,
        /// Why.
        reason: String,
    },
    /// A checkpoint names another log.
    #[error("checkpoint #{index} is for the log `{found}`, not `{expected}`")]
    CheckpointOrigin {
        /// Its position (from 1).
        index: usize,
        /// Its origin.
        found: String,
        /// The key's name.
        expected: String,
    },
    /// A later checkpoint is smaller or older than an earlier one.
    #[error(
        "checkpoint #{index} goes backwards (size {size} after size {previous_size}, or an \
         earlier time): the log was rolled back to an older checkpoint"
    )]
    CheckpointBackwards {
        /// Its position (from 1).
        index: usize,
        /// Its size.
        size: u64,
        /// The size of the checkpoint before it.
        previous_size: u64,
    },
    /// The chain at a checkpoint's size does not end in the head it signed.
    #[error(
        "the entries up to {size} no longer hash to the head signed in {which}: entries after \
         the previous good checkpoint were rewritten"
    )]
    CheckpointHead {
        /// Which checkpoint (e.g. `checkpoint #3`).
        which: String,
        /// Its size.
        size: u64,
    },
    /// The log ends before a signed checkpoint's size.
    #[error(
        "the log ends here, but {which} (signed {time}) covers {size} entries: entries from here \
         on were removed (truncated or rolled back)"
    )]
    Truncated {
        /// Which checkpoint.
        which: String,
        /// Its size.
        size: u64,
        /// When it was signed.
        time: String,
    },
    /// The log goes on past the checkpoint interval without a signed checkpoint.
    #[error(
        "the {count} entries from here on are not covered by a signed checkpoint, yet the \
         log signs one every {every_entries} entries or {every_seconds} s (the last of them was \
         written {seconds} s after the checkpoint before): checkpoints were removed, and the \
         entries they covered may have been rewritten and re-hashed (or the log was written \
         with a longer interval than `[audit]` here says)"
    )]
    Unsigned {
        /// Entries not covered, from this one on.
        count: u64,
        /// Seconds from the checkpoint before (or the first entry) to the newest entry.
        seconds: i64,
        /// The interval's entry count.
        every_entries: u64,
        /// The interval's seconds.
        every_seconds: u64,
    },
    /// A checkpoint kept outside the database (the kept file, a witness) does not hold.
    #[error("{which} cannot be trusted: {reason}")]
    OutsideCheckpointInvalid {
        /// Which one (e.g. `witness checkpoint #2`).
        which: String,
        /// Why.
        reason: String,
    },
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLog {
    /// Entries checked.
    pub entries: u64,
    /// The chain head (the hash of the last entry; zeros for an empty log).
    pub head: ChainHash,
    /// Checkpoints whose signature and head held.
    pub checkpoints: usize,
    /// The largest size a valid checkpoint covers.
    pub signed_size: u64,
}

impl VerifiedLog {
    /// Entries after the last checkpoint: linked, but not yet signed.
    pub fn unsigned_tail(&self) -> u64 {
        self.entries.saturating_sub(self.signed_size)
    }
}

struct Pending {
    which: String,
    checkpoint: Checkpoint,
    /// The first seq to blame if its head does not match.
    blame: u64,
}

/// Streams entries through the chain and checks them against the checkpoints.
pub struct ChainVerifier {
    pending: Vec<Pending>,
    /// An invalid checkpoint found up front, reported when no earlier break is found.
    checkpoint_break: Option<ChainBreak>,
    next_seq: u64,
    prev: ChainHash,
    buf: Vec<u8>,
    signed_size: u64,
    checkpoints_ok: usize,
    /// The writer's checkpoint interval, when the tail's length is to be checked.
    interval: Option<CheckpointInterval>,
    /// The time of the newest checkpoint reached (before any: the first entry's time),
    /// what the writer measures its interval from.
    tail_since: Option<DateTime<Utc>>,
    /// The newest time among the entries after the newest checkpoint reached.
    tail_newest: Option<DateTime<Utc>>,
}

impl ChainVerifier {
    /// A verifier for the stored checkpoints (in the order they were written) and, if
    /// given, the latest checkpoint kept outside the database.
    pub fn new(key: &NoteVerifier, checkpoints: &[String], trusted: Option<&str>) -> ChainVerifier {
        let outside: Vec<(String, String)> = trusted
            .map(|note| {
                (
                    "the checkpoint kept outside the database".to_string(),
                    note.to_string(),
                )
            })
            .into_iter()
            .collect();
        ChainVerifier::with_outside(key, checkpoints, &outside)
    }

    /// A verifier for the stored checkpoints and checkpoints kept outside the database
    /// (the kept file, a witness's copies), each named for reports: every one must
    /// match the chain at its size, and the log must reach the largest.
    pub fn with_outside(
        key: &NoteVerifier,
        checkpoints: &[String],
        outside: &[(String, String)],
    ) -> ChainVerifier {
        let mut pending = Vec::new();
        let mut checkpoint_break = None;
        let mut last: Option<Checkpoint> = None;
        let mut blame = 0;
        let record = |b: ChainBreak, slot: &mut Option<ChainBreak>| {
            if slot.as_ref().is_none_or(|old| b.seq < old.seq) {
                *slot = Some(b);
            }
        };
        for (i, note) in checkpoints.iter().enumerate() {
            let index = i + 1;
            let which = format!("checkpoint #{index}");
            match open_checkpoint(note, key) {
                Err(e) => {
                    let size = crate::checkpoint::parse_unverified(note).map_or(0, |c| c.size);
                    let b = ChainBreak {
                        seq: blame,
                        problem: Problem::CheckpointInvalid {
                            index,
                            size,
                            reason: e.to_string(),
                        },
                    };
                    record(b, &mut checkpoint_break);
                }
                Ok(c) if c.origin != key.name() => {
                    let b = ChainBreak {
                        seq: blame,
                        problem: Problem::CheckpointOrigin {
                            index,
                            found: c.origin,
                            expected: key.name().to_string(),
                        },
                    };
                    record(b, &mut checkpoint_break);
                }
                Ok(c) => {
                    if let Some(prev) = &last {
                        if c.size < prev.size || c.time < prev.time {
                            let b = ChainBreak {
                                seq: c.size.min(prev.size),
                                problem: Problem::CheckpointBackwards {
                                    index,
                                    size: c.size,
                                    previous_size: prev.size,
                                },
                            };
                            record(b, &mut checkpoint_break);
                        }
                    }
                    let this_blame = blame;
                    blame = blame.max(c.size);
                    last = Some(c.clone());
                    pending.push(Pending {
                        which,
                        checkpoint: c,
                        blame: this_blame,
                    });
                }
            }
        }
        let stored_sizes: Vec<u64> = pending.iter().map(|p| p.checkpoint.size).collect();
        let mut opened_outside = Vec::new();
        for (which, note) in outside {
            let opened = open_checkpoint(note, key).and_then(|c| {
                if c.origin == key.name() {
                    Ok(c)
                } else {
                    Err(crate::checkpoint::CheckpointError::Malformed(format!(
                        "it is for the log `{}`, not `{}`",
                        c.origin,
                        key.name()
                    )))
                }
            });
            match opened {
                Ok(c) => opened_outside.push((which.clone(), c)),
                Err(e) => record(
                    ChainBreak {
                        seq: 0,
                        problem: Problem::OutsideCheckpointInvalid {
                            which: which.clone(),
                            reason: e.to_string(),
                        },
                    },
                    &mut checkpoint_break,
                ),
            }
        }
        let outside_sizes: Vec<u64> = opened_outside.iter().map(|(_, c)| c.size).collect();
        for (which, c) in opened_outside {
            // Blame the entries after the largest other checkpoint below it.
            let blame = stored_sizes
                .iter()
                .filter(|s| **s <= c.size)
                .chain(outside_sizes.iter().filter(|s| **s < c.size))
                .copied()
                .max()
                .unwrap_or(0);
            pending.push(Pending {
                which,
                checkpoint: c,
                blame,
            });
        }
        // Check in the order the chain reaches them.
        pending.sort_by_key(|p| p.checkpoint.size);
        pending.reverse();
        ChainVerifier {
            pending,
            checkpoint_break,
            next_seq: 0,
            prev: ChainHash::GENESIS,
            buf: Vec::with_capacity(256),
            signed_size: 0,
            checkpoints_ok: 0,
            interval: None,
            tail_since: None,
            tail_newest: None,
        }
    }

    /// Also fails when entries past `interval` after the last checkpoint are unsigned
    /// (see the module documentation).
    pub fn require_coverage(mut self, interval: CheckpointInterval) -> ChainVerifier {
        self.interval = Some(interval);
        self
    }

    /// The sequence number the next entry must have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash of the last entry pushed.
    pub fn head(&self) -> ChainHash {
        self.prev
    }

    /// Reports an unreadable row at the next position (the earliest break still wins).
    pub fn unreadable(&self, reason: impl Into<String>) -> ChainBreak {
        self.earliest(ChainBreak {
            seq: self.next_seq,
            problem: Problem::Unreadable {
                reason: reason.into(),
            },
        })
    }

    /// Checks the next entry in storage order against its recorded hash.
    pub fn push(&mut self, entry: &AuditEntry, recorded: &ChainHash) -> Result<(), ChainBreak> {
        self.push_linked(entry, None, recorded)
    }

    /// As [`ChainVerifier::push`], also checking a recorded previous hash (exports).
    pub fn push_linked(
        &mut self,
        entry: &AuditEntry,
        recorded_prev: Option<&ChainHash>,
        recorded: &ChainHash,
    ) -> Result<(), ChainBreak> {
        let seq = self.next_seq;
        let fail = |this: &Self, problem| Err(this.earliest(ChainBreak { seq, problem }));
        if entry.seq > seq {
            return fail(self, Problem::Missing { found: entry.seq });
        }
        if entry.seq < seq {
            return fail(self, Problem::OutOfOrder { found: entry.seq });
        }
        if recorded_prev.is_some_and(|p| *p != self.prev) {
            return fail(self, Problem::PrevMismatch);
        }
        self.buf.clear();
        entry.write_canonical(&mut self.buf);
        let hash = chain_hash(&self.prev, &self.buf);
        if hash != *recorded {
            return fail(self, Problem::HashMismatch);
        }
        self.prev = hash;
        self.next_seq += 1;
        if self.tail_since.is_none() {
            self.tail_since = Some(entry.time);
        }
        self.tail_newest = Some(self.tail_newest.map_or(entry.time, |t| t.max(entry.time)));
        while let Some(p) = self.pending.last() {
            if p.checkpoint.size > self.next_seq {
                break;
            }
            if p.checkpoint.head != self.prev && p.checkpoint.size == self.next_seq {
                let b = ChainBreak {
                    seq: p.blame,
                    problem: Problem::CheckpointHead {
                        which: p.which.clone(),
                        size: p.checkpoint.size,
                    },
                };
                return Err(self.earliest(b));
            }
            if p.checkpoint.size >= self.signed_size {
                let time = p.checkpoint.time;
                self.tail_since = Some(self.tail_since.map_or(time, |t| t.max(time)));
                self.tail_newest = None;
            }
            self.signed_size = self.signed_size.max(p.checkpoint.size);
            self.checkpoints_ok += 1;
            self.pending.pop();
        }
        Ok(())
    }

    /// Ends the log: any checkpoint not yet reached means entries were removed.
    pub fn finish(mut self) -> Result<VerifiedLog, ChainBreak> {
        // A size-0 checkpoint (never signed by us, but possible) must name the empty chain.
        while let Some(p) = self.pending.last() {
            if p.checkpoint.size != 0 {
                break;
            }
            if p.checkpoint.head != ChainHash::GENESIS && self.next_seq == 0 {
                let b = ChainBreak {
                    seq: 0,
                    problem: Problem::CheckpointHead {
                        which: p.which.clone(),
                        size: 0,
                    },
                };
                return Err(self.earliest(b));
            }
            self.pending.pop();
        }
        if let Some(p) = self.pending.iter().max_by_key(|p| p.checkpoint.size) {
            let b = ChainBreak {
                seq: self.next_seq,
                problem: Problem::Truncated {
                    which: p.which.clone(),
                    size: p.checkpoint.size,
                    time: crate::entry::format_time(&p.checkpoint.time),
                },
            };
            return Err(self.earliest(b));
        }
        if let Some(b) = self.uncovered_tail() {
            return Err(self.earliest(b));
        }
        if let Some(b) = self.checkpoint_break {
            return Err(b);
        }
        Ok(VerifiedLog {
            entries: self.next_seq,
            head: self.prev,
            checkpoints: self.checkpoints_ok,
            signed_size: self.signed_size,
        })
    }

    /// The unsigned tail, when it is longer than the interval allows.
    fn uncovered_tail(&self) -> Option<ChainBreak> {
        let interval = self.interval?;
        let count = self.next_seq.saturating_sub(self.signed_size);
        let (since, newest) = (self.tail_since?, self.tail_newest?);
        if count == 0 || !interval.due(count, since, newest) {
            return None;
        }
        Some(ChainBreak {
            seq: self.signed_size,
            problem: Problem::Unsigned {
                count,
                seconds: (newest - since).num_seconds(),
                every_entries: interval.entries.max(1),
                every_seconds: interval.seconds,
            },
        })
    }

    fn earliest(&self, found: ChainBreak) -> ChainBreak {
        match &self.checkpoint_break {
            Some(b) if b.seq < found.seq => b.clone(),
            _ => found,
        }
    }
}

/// Verifies a whole log held in memory: entries in storage order with their recorded
/// hashes, the stored checkpoints, and optionally a trusted latest checkpoint.
pub fn verify_log(
    key: &NoteVerifier,
    entries: &[(AuditEntry, ChainHash)],
    checkpoints: &[String],
    trusted: Option<&str>,
) -> Result<VerifiedLog, ChainBreak> {
    let mut v = ChainVerifier::new(key, checkpoints, trusted);
    for (entry, hash) in entries {
        v.push(entry, hash)?;
    }
    v.finish()
}

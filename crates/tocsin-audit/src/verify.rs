//! The verifier: replays every link of the chain and checks every checkpoint.
//!
//! It streams (entries are pushed one at a time, so a million-entry log never has to be
//! in memory) and stops at the first break, naming the first bad sequence number and
//! what is wrong in words a compliance reviewer can act on. Checkpoints are checked with
//! `verify_strict`, must never go backwards, and must match the chain at their size; a
//! log shorter than a checkpoint, or than the trusted checkpoint kept outside the
//! database, has been truncated or rolled back.

use crate::checkpoint::{open_checkpoint, Checkpoint, NoteVerifier};
use crate::entry::{chain_hash, AuditEntry, ChainHash};

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
}

impl ChainVerifier {
    /// A verifier for the stored checkpoints (in the order they were written) and, if
    /// given, the latest checkpoint kept outside the database.
    pub fn new(key: &NoteVerifier, checkpoints: &[String], trusted: Option<&str>) -> ChainVerifier {
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
        if let Some(note) = trusted {
            match open_checkpoint(note, key) {
                Ok(c) => {
                    let blame = pending
                        .iter()
                        .map(|p| p.checkpoint.size)
                        .filter(|s| *s <= c.size)
                        .max()
                        .unwrap_or(0);
                    pending.push(Pending {
                        which: "the checkpoint kept outside the database".into(),
                        checkpoint: c,
                        blame,
                    });
                }
                Err(e) => record(
                    ChainBreak {
                        seq: 0,
                        problem: Problem::CheckpointInvalid {
                            index: 0,
                            size: 0,
                            reason: format!("the trusted checkpoint: {e}"),
                        },
                    },
                    &mut checkpoint_break,
                ),
            }
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
        }
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

//! What a text holds before counting (URLs, hashtags, distinct links), scanned once.
//!
//! A render measures the same text for several platforms, and a text just given its
//! hashtags is measured straight after; a small per-thread memo of the last few texts'
//! facts (keyed by the exact text, so never stale) spares those rescans.

use super::{hashtags, links};
use std::cell::RefCell;
use std::ops::{Deref, Range};

/// What [`super::measure`] finds in a text before counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextFacts {
    /// The URLs, as [`links::find_urls`] finds them.
    pub(crate) urls: RangeList,
    /// The hashtags outside the URLs, as [`hashtags::find_hashtags`] finds them.
    pub(crate) tags: RangeList,
    /// Distinct URLs.
    pub(crate) links: usize,
}

/// Byte ranges held inline when there are few (no allocation per measurement).
#[derive(Debug, Clone)]
pub(crate) struct RangeList {
    inline: [Range<usize>; INLINE_RANGES],
    len: usize,
    spill: Vec<Range<usize>>,
}

/// Ranges kept without allocating.
const INLINE_RANGES: usize = 8;

impl RangeList {
    fn new() -> RangeList {
        RangeList {
            inline: std::array::from_fn(|_| 0..0),
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Adds a range at the end.
    pub(crate) fn push(&mut self, r: Range<usize>) {
        if !self.spill.is_empty() {
            self.spill.push(r);
        } else if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = r;
            self.len += 1;
        } else {
            self.spill.extend(self.inline.iter().cloned());
            self.spill.push(r);
        }
    }

    /// Removes the last range.
    pub(crate) fn pop(&mut self) {
        if self.spill.is_empty() {
            self.len = self.len.saturating_sub(1);
        } else {
            self.spill.pop();
        }
    }
}

impl PartialEq for RangeList {
    fn eq(&self, other: &RangeList) -> bool {
        **self == **other
    }
}

impl Eq for RangeList {}

impl Deref for RangeList {
    type Target = [Range<usize>];

    fn deref(&self) -> &[Range<usize>] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.spill
        }
    }
}

/// Texts remembered per thread.
const MEMO_ENTRIES: usize = 4;
/// Longer texts are scanned every time rather than copied into the memo.
const MEMO_MAX_BYTES: usize = 4096;

thread_local! {
    static MEMO: RefCell<Memo> = const { RefCell::new(Memo { entries: Vec::new(), next: 0 }) };
}

/// The last few texts scanned on this thread, with their facts (round-robin).
struct Memo {
    entries: Vec<(String, TextFacts)>,
    next: usize,
}

impl TextFacts {
    /// The facts of `text`, from the memo when it was scanned recently.
    pub(crate) fn of(text: &str) -> TextFacts {
        if text.len() > MEMO_MAX_BYTES {
            return TextFacts::scan(text);
        }
        let hit = MEMO.with(|memo| {
            let memo = memo.try_borrow().ok()?;
            memo.entries
                .iter()
                .find(|(t, _)| t == text)
                .map(|(_, f)| f.clone())
        });
        if let Some(facts) = hit {
            return facts;
        }
        let facts = TextFacts::scan(text);
        facts.remember(text);
        facts
    }

    /// Scans `text`, bypassing the memo.
    pub(crate) fn scan(text: &str) -> TextFacts {
        let mut urls = RangeList::new();
        links::for_each_url(text, |r| urls.push(r));
        let mut tags = RangeList::new();
        hashtags::for_each_hashtag(text, &urls, |r| tags.push(r));
        TextFacts {
            links: links::distinct_count(text, &urls),
            urls,
            tags,
        }
    }

    /// Records these as `text`'s facts (they must be exactly what [`TextFacts::scan`]
    /// would find).
    pub(crate) fn remember(&self, text: &str) {
        if text.len() > MEMO_MAX_BYTES {
            return;
        }
        MEMO.with(|memo| {
            let Ok(mut memo) = memo.try_borrow_mut() else {
                return;
            };
            if memo.entries.iter().any(|(t, _)| t == text) {
                return;
            }
            if memo.entries.len() < MEMO_ENTRIES {
                memo.entries.push((text.to_owned(), self.clone()));
                return;
            }
            let next = memo.next;
            memo.next = (next + 1) % MEMO_ENTRIES;
            if let Some((t, f)) = memo.entries.get_mut(next) {
                t.clear();
                t.push_str(text);
                f.clone_from(self);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_facts_are_the_scanned_facts() {
        let text = "See cdc.gov/flu and https://health.example.gov #flu #shots";
        let first = TextFacts::of(text);
        assert_eq!(first, TextFacts::scan(text));
        assert_eq!(TextFacts::of(text), first);
        assert_eq!((first.urls.len(), first.tags.len(), first.links), (2, 2, 2));
    }

    #[test]
    fn the_memo_keeps_only_the_last_few_texts() {
        let texts: Vec<String> = (0..MEMO_ENTRIES + 3)
            .map(|i| format!("t{i}.gov/x #a{i}"))
            .collect();
        for t in &texts {
            assert_eq!(TextFacts::of(t), TextFacts::scan(t));
        }
        for t in &texts {
            assert_eq!(TextFacts::of(t), TextFacts::scan(t));
        }
        MEMO.with(|m| assert!(m.borrow().entries.len() <= MEMO_ENTRIES));
    }

    #[test]
    fn a_range_list_spills_to_the_heap_past_its_inline_capacity() {
        let mut list = RangeList::new();
        for i in 0..INLINE_RANGES + 2 {
            list.push(i..i + 1);
        }
        assert_eq!(list.len(), INLINE_RANGES + 2);
        assert_eq!(list.last(), Some(&(INLINE_RANGES + 1..INLINE_RANGES + 2)));
        list.pop();
        assert_eq!(list.len(), INLINE_RANGES + 1);
        let mut short = RangeList::new();
        short.push(3..4);
        short.pop();
        short.pop();
        assert!(short.is_empty());
    }

    #[test]
    fn a_text_is_remembered_once() {
        let text = "once.gov/x";
        for _ in 0..MEMO_ENTRIES + 1 {
            TextFacts::scan(text).remember(text);
        }
        MEMO.with(|m| {
            assert_eq!(
                m.borrow().entries.iter().filter(|(t, _)| t == text).count(),
                1
            )
        });
    }

    #[test]
    fn long_texts_are_not_remembered() {
        let long = "a".repeat(MEMO_MAX_BYTES + 1);
        let facts = TextFacts::of(&long);
        assert_eq!(facts, TextFacts::scan(&long));
        MEMO.with(|m| assert!(m.borrow().entries.iter().all(|(t, _)| t != &long)));
    }
}

//! How a labelled corpus is measured, shared by the tuning corpus test and the held-out
//! harness: lines are read, each sentence is put in English or Spanish by its function
//! words, and recall (per family, per language) and the false-positive rate (per
//! language) are counted. Only counts leave this module; printing sentences is the
//! caller's choice, which the held-out harness never makes.

use super::{PhiFamily, PhiGuard};

/// The two languages the corpora are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Language {
    English,
    Spanish,
}

impl Language {
    pub(super) const ALL: [Language; 2] = [Language::English, Language::Spanish];

    pub(super) fn name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::Spanish => "Spanish",
        }
    }
}

/// Words only Spanish uses, among the commonest of either language.
const SPANISH_WORDS: &[&str] = &[
    "al", "con", "de", "del", "el", "en", "es", "esta", "está", "fue", "la", "las", "los", "para",
    "por", "que", "se", "su", "sus", "una", "y",
];

/// Words only English uses, among the commonest of either language.
const ENGLISH_WORDS: &[&str] = &[
    "and", "at", "for", "from", "her", "his", "in", "is", "of", "on", "the", "to", "was", "with",
];

/// English or Spanish, by which language's function words (and Spanish accents and
/// inverted marks) the sentence has more of; English when tied.
pub(super) fn language(sentence: &str) -> Language {
    let mut spanish = sentence
        .chars()
        .filter(|c| matches!(c, 'á' | 'é' | 'í' | 'ó' | 'ú' | 'ñ' | '¿' | '¡'))
        .count();
    let mut english = 0;
    for word in sentence
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let lower = word.to_lowercase();
        spanish += usize::from(SPANISH_WORDS.contains(&lower.as_str()));
        english += usize::from(ENGLISH_WORDS.contains(&lower.as_str()));
    }
    if spanish > english {
        Language::Spanish
    } else {
        Language::English
    }
}

/// `label<TAB>sentence` lines, blank lines skipped; a line without a tab has an empty label.
pub(super) fn lines(corpus: &str) -> Vec<(&str, &str)> {
    corpus
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once('\t').unwrap_or(("", l)))
        .collect()
}

/// Caught and total, for one group of sentences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    pub hit: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.hit += usize::from(hit);
        self.total += 1;
    }

    pub(super) fn rate(self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.hit as f64 / self.total as f64
        }
    }

    /// "97.3% (36 of 37)".
    pub(super) fn show(self) -> String {
        format!(
            "{:5.1}% ({} of {})",
            100.0 * self.rate(),
            self.hit,
            self.total
        )
    }
}

/// The figures for one corpus, and which sentences went wrong (for the tuning corpus only).
#[derive(Debug, Default)]
pub(super) struct Report {
    pub recall: Tally,
    pub recall_by_language: [Tally; 2],
    pub recall_by_family: Vec<(PhiFamily, Tally, [Tally; 2])>,
    pub false_positives: Tally,
    pub false_positives_by_language: [Tally; 2],
    /// Indexes into the positive lines that were missed.
    pub missed: Vec<usize>,
    /// Indexes into the negative lines that had a hit.
    pub flagged: Vec<usize>,
}

fn slot(language: Language) -> usize {
    match language {
        Language::English => 0,
        Language::Spanish => 1,
    }
}

/// Measures `guard` over labelled positives (a positive is caught when a hit of its
/// labelled family is reported) and negatives (any hit is a false positive).
pub(super) fn measure(
    guard: &PhiGuard,
    positives: &[(PhiFamily, &str)],
    negatives: &[&str],
) -> Report {
    let mut report = Report {
        recall_by_family: PhiFamily::ALL
            .iter()
            .map(|f| (*f, Tally::default(), [Tally::default(); 2]))
            .collect(),
        ..Report::default()
    };
    for (index, (family, sentence)) in positives.iter().enumerate() {
        let caught = guard
            .check(sentence, &[])
            .iter()
            .any(|h| h.family == *family);
        let lang = slot(language(sentence));
        report.recall.add(caught);
        if let Some(t) = report.recall_by_language.get_mut(lang) {
            t.add(caught);
        }
        if let Some((_, all, by_lang)) = report
            .recall_by_family
            .iter_mut()
            .find(|(f, _, _)| f == family)
        {
            all.add(caught);
            if let Some(t) = by_lang.get_mut(lang) {
                t.add(caught);
            }
        }
        if !caught {
            report.missed.push(index);
        }
    }
    for (index, sentence) in negatives.iter().enumerate() {
        let flagged = !guard.check(sentence, &[]).is_empty();
        report.false_positives.add(flagged);
        if let Some(t) = report
            .false_positives_by_language
            .get_mut(slot(language(sentence)))
        {
            t.add(flagged);
        }
        if flagged {
            report.flagged.push(index);
        }
    }
    report
}

/// The aggregate figures as printable lines: no sentence appears in them.
pub(super) fn summary(report: &Report) -> Vec<String> {
    let mut out = vec![
        format!(
            "recall (positives with a hit of their family): {}",
            report.recall.show()
        ),
        format!(
            "false positives (negatives with any hit):       {}",
            report.false_positives.show()
        ),
    ];
    for language in Language::ALL {
        let i = slot(language);
        let (r, f) = (
            report
                .recall_by_language
                .get(i)
                .copied()
                .unwrap_or_default(),
            report
                .false_positives_by_language
                .get(i)
                .copied()
                .unwrap_or_default(),
        );
        out.push(format!(
            "  {:<8} recall {}   false positives {}",
            language.name(),
            r.show(),
            f.show()
        ));
    }
    out.push("  per family: all / English / Spanish".to_owned());
    for (family, all, by_lang) in &report.recall_by_family {
        if all.total == 0 {
            continue;
        }
        let [en, es] = *by_lang;
        out.push(format!(
            "  {:<22} {}   {}   {}",
            family.as_str(),
            all.show(),
            en.show(),
            es.show()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_put_in_the_language_their_function_words_belong_to() {
        assert_eq!(
            language("La paciente fue dada de alta el 9 de mayo."),
            Language::Spanish
        );
        assert_eq!(
            language("The patient was discharged on May 9."),
            Language::English
        );
        assert_eq!(language("Llame al 311."), Language::Spanish);
        assert_eq!(language("SSN: 512-34-9876"), Language::English);
    }
}

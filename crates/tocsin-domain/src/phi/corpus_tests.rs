//! Recall and false-positive rate of the guard over the tuning corpus in `corpus/`:
//! realistic sentences a careless drafter might post (each labelled with the family it
//! leaks) and realistic public-health posts that must pass clean, in English and Spanish.
//! The detector was tuned against these, so they are best-case figures. Run with
//! `cargo test -p tocsin-domain phi::corpus -- --nocapture` to see them and every miss.

use super::measure::{language, lines, measure, summary, Language};
use super::{CustomPattern, PhiConfig, PhiFamily, PhiGuard};

const POSITIVE: &str = include_str!("corpus/positive.tsv");
const NEGATIVE: &str = include_str!("corpus/negative.tsv");

/// The organisation settings the corpus is written against.
pub(super) fn test_config() -> PhiConfig {
    PhiConfig {
        allowed_domains: vec!["health.example.gov".to_owned(), "cdc.gov".to_owned()],
        allowed_phone_numbers: vec!["(312) 555-0100".to_owned()],
        custom_patterns: vec![
            CustomPattern {
                name: "employee_badge".to_owned(),
                regex: r"\bEMP-[0-9]{6}\b".to_owned(),
            },
            CustomPattern {
                name: "outbreak_case_id".to_owned(),
                regex: r"\bCASE-[0-9]{4}-[0-9]{4,6}\b".to_owned(),
            },
        ],
    }
}

fn describe(text: &str, hits: &[super::PhiHit]) -> String {
    hits.iter()
        .map(|h| format!("{}={:?}", h.family, text.get(h.start..h.end).unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn corpus_lines_are_well_formed_and_cover_every_family_at_least_ten_times() {
    let positives = lines(POSITIVE);
    assert!(
        positives.len() >= 400,
        "only {} positive lines",
        positives.len()
    );
    assert!(lines(NEGATIVE).len() >= 400);
    for (label, sentence) in &positives {
        assert!(
            label.parse::<PhiFamily>().is_ok(),
            "bad label {label:?} on {sentence:?}"
        );
    }
    for (label, _) in lines(NEGATIVE) {
        assert_eq!(label, "-");
    }
    for family in PhiFamily::ALL {
        let count = positives
            .iter()
            .filter(|(l, _)| *l == family.as_str())
            .count();
        assert!(
            count >= 10,
            "family {family} has only {count} positive lines"
        );
    }
    let spanish = positives
        .iter()
        .filter(|(_, s)| language(s) == Language::Spanish)
        .count();
    assert!(spanish >= 80, "only {spanish} Spanish positives");
}

#[test]
fn corpus_recall_is_at_least_95_percent_and_false_positive_rate_at_most_5_percent() {
    let guard = PhiGuard::new(&test_config()).expect("test config is valid");
    let positives: Vec<(PhiFamily, &str)> = lines(POSITIVE)
        .into_iter()
        .map(|(label, sentence)| (label.parse().expect("labels checked above"), sentence))
        .collect();
    let negatives: Vec<&str> = lines(NEGATIVE).into_iter().map(|(_, s)| s).collect();
    let report = measure(&guard, &positives, &negatives);

    println!("PHI tuning corpus (tuned against: best case)");
    for line in summary(&report) {
        println!("{line}");
    }
    for (family, sentence) in report.missed.iter().filter_map(|i| positives.get(*i)) {
        println!(
            "  MISS [{family}] {sentence}\n       got: {}",
            describe(sentence, &guard.check(sentence, &[]))
        );
    }
    for sentence in report.flagged.iter().filter_map(|i| negatives.get(*i)) {
        println!(
            "  FALSE POSITIVE {sentence}\n       got: {}",
            describe(sentence, &guard.check(sentence, &[]))
        );
    }
    let (recall, fp_rate) = (report.recall.rate(), report.false_positives.rate());
    assert!(recall >= 0.95, "recall {recall:.3} is below 0.95");
    assert!(
        fp_rate <= 0.05,
        "false-positive rate {fp_rate:.3} is above 0.05"
    );
}

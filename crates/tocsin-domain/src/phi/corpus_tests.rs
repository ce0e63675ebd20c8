//! Recall and false-positive rate of the guard over the labelled corpus in `corpus/`:
//! realistic sentences a careless drafter might post (each labelled with the family it
//! leaks) and realistic public-health posts that must pass clean. Run with
//! `cargo test -p tocsin-domain phi::corpus -- --nocapture` to see the numbers and every miss.

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

fn lines(corpus: &str) -> Vec<(&str, &str)> {
    corpus
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once('\t').unwrap_or(("", l)))
        .collect()
}

fn describe(text: &str, hits: &[super::PhiHit]) -> String {
    hits.iter()
        .map(|h| format!("{}={:?}", h.family, text.get(h.start..h.end).unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn corpus_lines_are_well_formed_and_cover_every_family() {
    let positives = lines(POSITIVE);
    assert!(
        positives.len() >= 120,
        "only {} positive lines",
        positives.len()
    );
    assert!(lines(NEGATIVE).len() >= 120);
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
            count >= 5,
            "family {family} has only {count} positive lines"
        );
    }
}

#[test]
fn corpus_recall_is_at_least_95_percent_and_false_positive_rate_at_most_5_percent() {
    let guard = PhiGuard::new(&test_config()).expect("test config is valid");

    let positives = lines(POSITIVE);
    let mut misses = Vec::new();
    for (label, sentence) in &positives {
        let family: PhiFamily = label.parse().expect("labels checked above");
        let hits = guard.check(sentence, &[]);
        if !hits.iter().any(|h| h.family == family) {
            misses.push(format!(
                "  MISS [{label}] {sentence}\n       got: {}",
                describe(sentence, &hits)
            ));
        }
    }

    let negatives = lines(NEGATIVE);
    let mut false_positives = Vec::new();
    for (_, sentence) in &negatives {
        let hits = guard.check(sentence, &[]);
        if !hits.is_empty() {
            false_positives.push(format!(
                "  FALSE POSITIVE {sentence}\n       got: {}",
                describe(sentence, &hits)
            ));
        }
    }

    let recall = 1.0 - misses.len() as f64 / positives.len() as f64;
    let fp_rate = false_positives.len() as f64 / negatives.len() as f64;
    println!(
        "PHI corpus: recall {:.3} ({} of {} positives), false-positive rate {:.3} ({} of {} negatives)",
        recall,
        positives.len() - misses.len(),
        positives.len(),
        fp_rate,
        false_positives.len(),
        negatives.len()
    );
    for family in PhiFamily::ALL {
        let total = positives
            .iter()
            .filter(|(l, _)| *l == family.as_str())
            .count();
        let missed = misses
            .iter()
            .filter(|m| m.contains(&format!("[{}]", family.as_str())))
            .count();
        println!(
            "  {:<22} {:>2}/{:<2} found",
            family.as_str(),
            total - missed,
            total
        );
    }
    for line in misses.iter().chain(&false_positives) {
        println!("{line}");
    }
    assert!(recall >= 0.95, "recall {recall:.3} is below 0.95");
    assert!(
        fp_rate <= 0.05,
        "false-positive rate {fp_rate:.3} is above 0.05"
    );
}

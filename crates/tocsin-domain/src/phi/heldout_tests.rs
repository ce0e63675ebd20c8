//! The held-out evaluation: `corpus/heldout/` was written by someone else before the
//! detector changed and is never tuned against, so this prints aggregate figures only
//! (recall overall, per family, per language; false positives overall, per language),
//! never a sentence or a miss, and asserts only that the files are well formed. Run it
//! with `cargo test -p tocsin-domain heldout -- --nocapture`.

use super::corpus_tests::test_config;
use super::measure::{language, lines, measure, summary, Language};
use super::{PhiFamily, PhiGuard};

const POSITIVE: &str = include_str!("corpus/heldout/positive.tsv");
const NEGATIVE: &str = include_str!("corpus/heldout/negative.tsv");

#[test]
fn heldout_files_are_well_formed_and_their_figures_are_printed_without_sentences() {
    let positive_lines = lines(POSITIVE);
    let negative_lines = lines(NEGATIVE);
    // Messages name line numbers only, so a failure cannot show a sentence either.
    let mut positives: Vec<(PhiFamily, &str)> = Vec::with_capacity(positive_lines.len());
    for (n, (label, sentence)) in positive_lines.iter().enumerate() {
        let family = label.parse::<PhiFamily>();
        assert!(
            family.is_ok() && !sentence.trim().is_empty(),
            "positive line {} is not `family<TAB>sentence`",
            n + 1
        );
        if let Ok(family) = family {
            positives.push((family, sentence));
        }
    }
    let mut negatives: Vec<&str> = Vec::with_capacity(negative_lines.len());
    for (n, (label, sentence)) in negative_lines.iter().enumerate() {
        assert!(
            *label == "-" && !sentence.trim().is_empty(),
            "negative line {} is not `-<TAB>sentence`",
            n + 1
        );
        negatives.push(sentence);
    }
    assert!(
        positives.len() >= 150,
        "only {} held-out positives",
        positives.len()
    );
    assert!(
        negatives.len() >= 150,
        "only {} held-out negatives",
        negatives.len()
    );

    let guard = PhiGuard::new(&test_config()).expect("test config is valid");
    let report = measure(&guard, &positives, &negatives);
    let spanish = |texts: &mut dyn Iterator<Item = &str>| {
        texts.filter(|s| language(s) == Language::Spanish).count()
    };
    println!("PHI held-out corpus (never tuned against)");
    println!(
        "  sentences: {} positives ({} put in Spanish), {} negatives ({} put in Spanish)",
        positives.len(),
        spanish(&mut positives.iter().map(|(_, s)| *s)),
        negatives.len(),
        spanish(&mut negatives.iter().copied()),
    );
    for line in summary(&report) {
        println!("{line}");
    }
}

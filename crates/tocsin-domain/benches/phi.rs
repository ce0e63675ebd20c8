//! PHI guard throughput on its own, without rendering around it: one `check` per
//! sentence of the tuning corpus. Clean text is what a preview checks almost always, so
//! the negatives are the figure to watch; the positives add the cost of a hit.
//! Only the first lines of each file are used, so that sentences added to the corpus
//! later do not change what is measured.

// A benchmark with a broken fixture should stop loudly; criterion's macros make
// undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tocsin_domain::phi::{PhiConfig, PhiGuard};

const POSITIVE: &str = include_str!("../src/phi/corpus/positive.tsv");
const NEGATIVE: &str = include_str!("../src/phi/corpus/negative.tsv");

/// How many lines of each file are measured (the corpus as it was when this bench was written).
const POSITIVE_LINES: usize = 240;
const NEGATIVE_LINES: usize = 300;

fn sentences(corpus: &str, n: usize) -> Vec<&str> {
    corpus
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, s)| s))
        .take(n)
        .collect()
}

fn bench_phi(c: &mut Criterion) {
    let guard = PhiGuard::new(&PhiConfig {
        allowed_domains: vec!["health.example.gov".into(), "cdc.gov".into()],
        allowed_phone_numbers: vec!["(312) 555-0100".into()],
        ..PhiConfig::default()
    })
    .expect("phi guard");
    let mut group = c.benchmark_group("phi");
    for (name, texts) in [
        ("clean-sentences", sentences(NEGATIVE, NEGATIVE_LINES)),
        ("sentences-with-phi", sentences(POSITIVE, POSITIVE_LINES)),
    ] {
        group.throughput(Throughput::Elements(texts.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| guard.check(black_box(t), &[]).len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_phi);
criterion_main!(benches);

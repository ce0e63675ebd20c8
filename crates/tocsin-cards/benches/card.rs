//! Drawing a 1080×1080 alert card (the boil-water card of the shipped library, with its
//! examples), beside two floors measured in the same run: the same card's SVG drawn with
//! its text taken out, and a plain fill of the canvas encoded as PNG.
//!
//! `cargo bench -p tocsin-cards --bench card`; as a smoke test,
//! `cargo bench -p tocsin-cards --profile dev -- --test`.

// criterion's macros write undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;

use tocsin_cards::{CardRenderer, CardSize, CardStyle};
use tocsin_domain::compose::{fill_values_for_step, Composer};
use tocsin_domain::counting::{CountingRules, PlatformLimits};
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};

fn cards(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Ok(library) = Library::load(&root.join("playbooks"), &root.join("templates")) else {
        panic!("the shipped playbooks load");
    };
    let Ok(guard) = PhiGuard::new(&PhiConfig::default()) else {
        panic!("the default PHI guard builds");
    };
    let composer = Composer::new(
        library.templates().clone(),
        guard,
        PlatformLimits::default(),
        CountingRules::default(),
    );
    let Ok(renderer) = CardRenderer::new(&library, CardStyle::default()) else {
        panic!("the card fonts load");
    };
    let Some(playbook) = library.get("boil-water") else {
        panic!("boil-water loads");
    };
    let examples = playbook.example_values();
    let Some(step) = playbook.step("alert") else {
        panic!("boil-water has an alert step");
    };
    let Ok(filled) = fill_values_for_step(playbook, step, &examples) else {
        panic!("the examples are valid");
    };
    let Ok(Some(card)) = composer.compose_card(playbook, step, &filled) else {
        panic!("the alert step has a card");
    };

    let mut group = c.benchmark_group("card_1080");
    group.sample_size(20);
    group.bench_function("full card (compose texts, fit, draw, PNG)", |b| {
        b.iter(|| {
            let card = renderer.render_step(
                &composer,
                playbook,
                "alert",
                black_box(&examples),
                CardSize::Instagram,
            );
            black_box(card.map(|c| c.png.len()).unwrap_or(0))
        })
    });
    group.bench_function("draw composed card (fit, draw, PNG)", |b| {
        b.iter(|| {
            black_box(
                renderer
                    .render(black_box(&card), CardSize::Instagram)
                    .map(|c| c.png.len())
                    .unwrap_or(0),
            )
        })
    });
    group.bench_function("floor: same SVG without text, PNG", |b| {
        b.iter(|| {
            black_box(tocsin_cards::bench_support::draw_shapes_only(
                CardSize::Instagram,
            ))
        })
    });
    group.bench_function("floor: plain fill, PNG", |b| {
        b.iter(|| black_box(tocsin_cards::bench_support::plain_fill(CardSize::Instagram)))
    });
    group.finish();
}

criterion_group!(benches, cards);
criterion_main!(benches);

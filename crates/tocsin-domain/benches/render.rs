//! Render throughput: one playbook step for every platform, with value checking,
//! hashtag fitting, per-platform counting and the PHI check, as a preview does.

// A benchmark with a broken fixture should stop loudly; criterion's macros make
// undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;
use tocsin_domain::compose::{ComposeOptions, Composer};
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};
use tocsin_domain::Platform;

fn bench_render(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let library =
        Library::load(&root.join("playbooks"), &root.join("templates")).expect("library loads");
    let phi = PhiConfig {
        allowed_domains: vec!["health.example.gov".into(), "cdc.gov".into()],
        ..PhiConfig::default()
    };
    let composer = Composer::new(
        library.templates().clone(),
        PhiGuard::new(&phi).expect("phi guard"),
        PlatformLimits::default(),
        tocsin_connectors::counting_rules(),
    );
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    for (id, step) in [("boil-water", "alert"), ("live-procedure", "update")] {
        let Some(playbook) = library.get(id) else {
            continue;
        };
        let values = playbook.example_values();
        group.bench_function(format!("{id}/{step}/all-platforms"), |b| {
            b.iter(|| {
                composer
                    .compose(
                        playbook,
                        step,
                        &values,
                        &Platform::ALL,
                        ComposeOptions {
                            post_number: Some(3),
                        },
                    )
                    .expect("renders")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_render);
criterion_main!(benches);

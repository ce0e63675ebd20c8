//! Arbitrary bytes as a playbook file: `parse_playbook` (TOML, then every validation
//! rule) must answer with a playbook or diagnostics, never panic. A playbook that parses
//! is then taken as far as the library takes one, with a stand-in body for each template
//! file it names (its headline followed by every variable): headlines and CAP area
//! compile, example values fill, and each step composes for every platform, so the
//! playbook's own time zone, date-time format, hashtags and variable rules are used.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tocsin_domain::compose::{cap_area_name, headline_name, ComposeOptions, Composer};
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::playbook::parse_playbook;
use tocsin_domain::render::{Escaping, TemplateSet};
use tocsin_domain::Platform;

fuzz_target!(|data: &[u8]| {
    // The library refuses non-UTF-8 files before parsing; so does this target.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let playbook = match parse_playbook(Path::new("playbooks/fuzz.toml"), text) {
        Ok(p) => p,
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "refused without a diagnostic");
            for d in &diagnostics {
                let _ = d.to_string();
            }
            return;
        }
    };

    let mut templates = TemplateSet::new();
    let every_variable: String = playbook
        .variables
        .iter()
        .map(|v| format!(" {{{{{}}}}}", v.name))
        .collect();
    for step in &playbook.steps {
        let body = format!("{}{every_variable}", step.headline);
        for file in step.template_files() {
            for escaping in [Escaping::Plain, Escaping::Html] {
                if !templates.contains(file, escaping) {
                    let _ = templates.add(file, &body, escaping);
                }
            }
        }
        let _ = templates.add(
            &headline_name(&playbook.id, &step.id),
            &step.headline,
            Escaping::Plain,
        );
    }
    if let Some(cap) = &playbook.cap {
        let _ = templates.add(&cap_area_name(&playbook.id), &cap.area, Escaping::Plain);
    }
    let _ = playbook.template_files();

    let composer = Composer::new(
        templates,
        tocsin_fuzz::phi_guard().clone(),
        PlatformLimits::default(),
        tocsin_connectors::counting_rules(),
    );
    let values = playbook.example_values();
    for step in &playbook.steps {
        let options = ComposeOptions {
            post_number: Some(2),
        };
        if let Ok(composed) =
            composer.compose(&playbook, &step.id, &values, &Platform::ALL, options)
        {
            let _ = composed.is_blocked();
        }
    }
});

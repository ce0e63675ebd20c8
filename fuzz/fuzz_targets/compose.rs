//! A repository playbook (boil-water unless the fuzzer picks another) filled with
//! arbitrary values and composed by `Composer::compose` for every platform, exactly as a
//! preview is: value checking (text, enum, integer, date-time, phone, URL, ZIP, hashtag),
//! rendering, hashtag fitting, per-platform counting and the PHI guard. Values may be
//! refused; nothing may panic. Each variable starts from its example, so the zero-byte
//! seed composes the playbook as `tocsin playbooks render` does.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tocsin_domain::compose::ComposeOptions;
use tocsin_domain::Platform;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// Another playbook than boil-water: index into the library (wrapping).
    other_playbook: Option<u8>,
    /// The step, by index into the playbook's steps (wrapping).
    step: u8,
    /// A live session's post number.
    post_number: Option<u32>,
    /// A name the playbook does not declare, with its value.
    unknown: Option<(&'a str, &'a str)>,
    /// Values by variable index (wrapping); they replace the examples.
    values: Vec<(u8, &'a str)>,
}

fuzz_target!(|input: Input<'_>| {
    let library = tocsin_fuzz::library();
    let playbooks = library.playbooks();
    let chosen = match input.other_playbook {
        Some(i) if !playbooks.is_empty() => playbooks.get(usize::from(i) % playbooks.len()),
        _ => library.get("boil-water"),
    };
    let Some(playbook) = chosen else {
        return;
    };
    let Some(step) = playbook
        .steps
        .get(usize::from(input.step) % playbook.steps.len().max(1))
    else {
        return;
    };
    let mut raw = playbook.example_values();
    let count = playbook.variables.len().max(1);
    for (index, value) in &input.values {
        if let Some(spec) = playbook.variables.get(usize::from(*index) % count) {
            raw.insert(spec.name.clone(), (*value).to_string());
        }
    }
    if let Some((name, value)) = input.unknown {
        raw.insert(name.to_string(), value.to_string());
    }
    let options = ComposeOptions {
        post_number: input.post_number,
    };
    match tocsin_fuzz::composer().compose(playbook, &step.id, &raw, &Platform::ALL, options) {
        Ok(composed) => {
            assert_eq!(composed.step_id, step.id);
            let _ = composed.is_blocked();
            for variant in &composed.variants {
                let _ = variant.blocking_problems();
                let _ = variant.warnings();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

//! A template text and variable values, as the renderer gets them: the template is
//! compiled into a `TemplateSet` (plain or HTML escaping) and rendered against a context
//! shaped like the composer's (every variable of the repository's playbooks with its
//! example value, date-times for `datetime`, hashtags, playbook and step), with the
//! fuzzed values laid over it. Compiling and rendering may fail; they must never panic.
//! The same text also goes through `render_inline`, as a playbook's headline does.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use tocsin_domain::render::{context, Escaping, TemplateSet, DATETIME_KEY, ZONE_KEY};
use tocsin_domain::variables::VariableValue;

/// What the fuzzer chooses. The template comes last, so it takes the rest of the input:
/// a seed made of four zero bytes and a repository template renders that template.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// HTML escaping (the email part) instead of plain text.
    html: bool,
    /// Values laid over the base context, by name (new names are added).
    values: Vec<(&'a str, &'a str)>,
    /// A date-time (any text) for a name, as the `datetime` helper reads it.
    datetime: Option<(&'a str, &'a str)>,
    /// The playbook's zone, as the `datetime` helper reads it.
    zone: Option<&'a str>,
    /// The template text.
    template: &'a str,
}

/// The context a composed step renders against, for every variable of every playbook.
fn base() -> &'static Map<String, Value> {
    static BASE: OnceLock<Map<String, Value>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut data = Map::new();
        let mut datetimes = Map::new();
        for playbook in tocsin_fuzz::library().playbooks() {
            for (name, example) in playbook.example_values() {
                let Some(spec) = playbook.variable(&name) else {
                    continue;
                };
                let Ok(value) = spec.parse(&example) else {
                    continue;
                };
                if let VariableValue::Datetime(at) = &value {
                    datetimes.insert(name.clone(), Value::String(at.to_rfc3339()));
                }
                let json = match value {
                    VariableValue::Integer(n) => Value::from(n),
                    ref other => Value::String(spec.display(other)),
                };
                data.insert(name, json);
            }
        }
        data.insert(
            "hashtags".into(),
            serde_json::json!(["BoilWaterAdvisory", "Chicago"]),
        );
        data.insert(
            "playbook".into(),
            serde_json::json!({"id": "boil-water", "title": "Boil-water advisory"}),
        );
        data.insert(
            "step".into(),
            serde_json::json!({"id": "alert", "title": "Initial advisory"}),
        );
        data.insert("post_number".into(), Value::from(3));
        data.insert(DATETIME_KEY.into(), Value::Object(datetimes));
        data.insert(ZONE_KEY.into(), Value::String("America/Chicago".into()));
        data
    })
}

fuzz_target!(|input: Input<'_>| {
    let mut data = base().clone();
    for (name, value) in &input.values {
        data.insert((*name).to_string(), Value::String((*value).to_string()));
    }
    if let Some((name, at)) = input.datetime {
        if let Some(Value::Object(datetimes)) = data.get_mut(DATETIME_KEY) {
            datetimes.insert(name.to_string(), Value::String(at.to_string()));
        }
    }
    if let Some(zone) = input.zone {
        data.insert(ZONE_KEY.into(), Value::String(zone.to_string()));
    }
    let ctx = context(Value::Object(data));
    let escaping = if input.html {
        Escaping::Html
    } else {
        Escaping::Plain
    };
    let mut set = TemplateSet::new();
    if set.add("fuzz.hbs", input.template, escaping).is_ok() {
        if let Err(problem) = set.render("fuzz.hbs", escaping, &ctx) {
            let _ = problem.to_string();
        }
    }
    if let Err(problem) = set.render_inline("fuzz#headline", input.template, &ctx) {
        let _ = problem.to_string();
    }
});

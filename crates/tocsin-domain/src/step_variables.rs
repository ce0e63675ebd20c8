//! Which of a playbook's variables each step reads, so a draft of a step asks only for
//! those: a live session's introduction does not wait for an answer to a public
//! question, and a quick update is one field.
//!
//! A step reads what its templates (every variant, in every language), its headlines, its WEA texts, the
//! playbook's CAP area and, in a live session, the session hashtag read, including
//! inside branches the example values never take ([`crate::template_names::names_read`]).

use std::collections::BTreeSet;

use crate::playbook::{Playbook, Step};
use crate::template_names::names_read;

/// Fills each step's [`Step::variables`] from the template files' bytes (`(file, bytes)`
/// as the library read them). A template that is missing or not UTF-8 was already
/// reported; it adds nothing.
pub fn note_step_variables(playbook: &mut Playbook, templates: &[(String, Vec<u8>)]) {
    let mut shared: BTreeSet<String> = BTreeSet::new();
    if let Some(cap) = &playbook.cap {
        shared.extend(names_read(&cap.area).into_iter().map(|u| u.name));
    }
    if let Some(session) = &playbook.session {
        shared.insert(session.hashtag_variable.clone());
    }
    let order: Vec<String> = playbook.variables.iter().map(|v| v.name.clone()).collect();
    let read_by = |step: &Step| -> Vec<String> {
        let mut read = shared.clone();
        for (_, version) in step.in_every_language() {
            read.extend(names_read(&version.headline).into_iter().map(|u| u.name));
        }
        for (_, _, source) in step.wea_templates() {
            read.extend(names_read(source).into_iter().map(|u| u.name));
        }
        for source in step.card_templates() {
            read.extend(names_read(source).into_iter().map(|u| u.name));
        }
        for file in step.template_files() {
            let body = templates
                .iter()
                .find(|(name, _)| name == file)
                .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok());
            if let Some(body) = body {
                read.extend(names_read(body).into_iter().map(|u| u.name));
            }
        }
        order
            .iter()
            .filter(|n| read.contains(*n))
            .cloned()
            .collect()
    };
    let steps: Vec<Vec<String>> = playbook.steps.iter().map(&read_by).collect();
    let retraction = playbook.retraction.as_ref().map(&read_by);
    for (step, names) in playbook.steps.iter_mut().zip(steps) {
        step.variables = Some(names);
    }
    if let (Some(step), Some(names)) = (playbook.retraction.as_mut(), retraction) {
        step.variables = Some(names);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::parse_playbook;
    use std::path::Path;

    const SESSION: &str = r#"
id = "live"
title = "Live"
description = "d"
timezone = "America/Chicago"
approval = "two-person"

[session]
hashtag_variable = "tag"
fixed = ["team"]

[[variables]]
name = "tag"
type = "hashtag"
label = "Tag"
example = "Knee"

[[variables]]
name = "team"
type = "text"
label = "Team"
example = "our team"

[[variables]]
name = "update_text"
type = "text"
label = "Update"
example = "The first cut."

[[variables]]
name = "note"
type = "text"
label = "Note"
required = false
example = "n"

[[steps]]
id = "intro"
title = "Intro"
headline = "Live with {{team}}"
template = "intro.hbs"

[[steps]]
id = "update"
title = "Update"
headline = "Update"
template = "update.hbs"
"#;

    fn loaded() -> Playbook {
        let mut p = match parse_playbook(Path::new("live.toml"), SESSION) {
            Ok(p) => p,
            Err(e) => panic!("the test playbook is valid: {e:?}"),
        };
        note_step_variables(
            &mut p,
            &[
                ("intro.hbs".into(), b"Follow {{team}} live.".to_vec()),
                (
                    "update.hbs".into(),
                    b"{{update_text}}{{#if note}} ({{note}}){{/if}}".to_vec(),
                ),
            ],
        );
        p
    }

    #[test]
    fn each_step_reads_its_templates_headline_and_the_session_hashtag() {
        let p = loaded();
        assert_eq!(
            p.step("intro").and_then(|s| s.variables.clone()),
            Some(vec!["tag".to_string(), "team".to_string()])
        );
        // A name read only inside a branch counts, in the playbook's order.
        assert_eq!(
            p.step("update").and_then(|s| s.variables.clone()),
            Some(vec![
                "tag".to_string(),
                "update_text".to_string(),
                "note".to_string()
            ])
        );
    }

    #[test]
    fn a_step_reads_nothing_it_does_not_name() {
        let p = loaded();
        let intro = p.step("intro").map(|s| s.reads("update_text"));
        assert_eq!(intro, Some(false));
        let update = p.step("update").map(|s| s.reads("team"));
        assert_eq!(update, Some(false));
    }

    #[test]
    fn before_the_templates_are_read_every_variable_applies() {
        let p = match parse_playbook(Path::new("live.toml"), SESSION) {
            Ok(p) => p,
            Err(e) => panic!("valid: {e:?}"),
        };
        assert_eq!(p.step("intro").map(|s| s.reads("update_text")), Some(true));
        assert_eq!(
            p.session.as_ref().map(|s| s.fixed.clone()),
            Some(vec!["team".to_string()])
        );
    }

    #[test]
    fn a_fixed_variable_must_exist_and_not_be_the_hashtag() {
        for (fixed, expected) in [
            (
                "[\"nope\"]",
                "session fixed variable `nope` is not declared",
            ),
            ("[\"tag\"]", "is the session's hashtag variable"),
            ("[\"team\", \"team\"]", "is listed twice"),
        ] {
            let src = SESSION.replace("fixed = [\"team\"]", &format!("fixed = {fixed}"));
            let problems = match parse_playbook(Path::new("live.toml"), &src) {
                Ok(_) => panic!("{fixed} should be refused"),
                Err(problems) => problems,
            };
            let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
            assert!(
                text.iter()
                    .any(|t| t.contains(expected) && t.contains("live.toml:")),
                "{fixed}: {text:?}"
            );
        }
    }

    #[test]
    fn a_step_reads_what_its_wea_texts_read() {
        let src = SESSION.replace(
            "[session]",
            "[cap]\nevent = \"E\"\ncategory = \"Health\"\nurgency = \"Expected\"\nseverity = \"Minor\"\ncertainty = \"Likely\"\narea = \"here\"\nexpires_hours = 2\n\n[session]",
        ) + "\n[steps.wea.en]\nshort = \"{{#if note}}{{note}}{{/if}} {{team}}\"\n";
        let mut p = match parse_playbook(Path::new("live.toml"), &src) {
            Ok(p) => p,
            Err(e) => panic!("valid: {e:?}"),
        };
        note_step_variables(
            &mut p,
            &[
                ("intro.hbs".into(), b"Follow {{team}} live.".to_vec()),
                ("update.hbs".into(), b"{{update_text}}".to_vec()),
            ],
        );
        // `team` and `note` are read by the update's WEA text only.
        assert_eq!(
            p.step("update").and_then(|s| s.variables.clone()),
            Some(vec![
                "tag".to_string(),
                "team".to_string(),
                "update_text".to_string(),
                "note".to_string()
            ])
        );
    }
}

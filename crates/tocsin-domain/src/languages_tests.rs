//! Playbooks in several languages, end to end through the domain: the file format and its
//! errors (with file and line), rendering and counting per language (English, Spanish,
//! Simplified Chinese), date-times and enum choices per language, the stored names of
//! the other languages' texts, the content hash and lint.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compose::{ComposeOptions, Composer};
use crate::counting::PlatformLimits;
use crate::language::LanguageTag;
use crate::library::Library;
use crate::phi::{PhiConfig, PhiGuard};
use crate::playbook::{parse_playbook, LanguageText, TextTarget, VariantTarget};
use crate::Platform;

pub(crate) const PLAYBOOK: &str = r#"id = "boil"
title = "Boil-water advisory"
description = "Tell residents to boil tap water."
timezone = "America/Chicago"
languages = ["en", "es", "zh-Hans"]
hashtags = ["BoilWater"]

[translations.es]
title = "Aviso de hervir el agua"

[translations.zh-Hans]
title = "煮沸饮用水通知"

[[variables]]
name = "area"
type = "text"
label = "Area"
example = "North Side"
translations.es = { label = "Zona" }
translations.zh-Hans = { label = "地区" }

[[variables]]
name = "cause"
type = "enum"
label = "Reason"
choices = ["a water main break", "low water pressure"]
example = "a water main break"
translations.es = { label = "Motivo", choices = ["una rotura de tubería", "baja presión del agua"] }
translations.zh-Hans = { label = "原因", choices = ["主水管破裂", "水压过低"] }

[[variables]]
name = "until"
type = "datetime"
label = "Until"
example = "2026-07-14T09:30"
translations.es = { label = "Hasta" }
translations.zh-Hans = { label = "截止时间" }

[[steps]]
id = "alert"
title = "Alert"
headline = "Boil water: {{area}}"
template = "boil/alert.hbs"
variants = { x = "boil/alert.x.hbs" }

[steps.translations.es]
title = "Aviso"
headline = "Hierva el agua: {{area}}"
template = "boil/es/alert.hbs"
variants = { x = "boil/es/alert.x.hbs" }

[steps.translations.zh-Hans]
title = "通知"
headline = "煮沸饮用水：{{area}}"
template = "boil/zh-Hans/alert.hbs"
variants = { x = "boil/zh-Hans/alert.x.hbs" }

[retraction]
headline = "Withdrawn: boil water"
template = "boil/withdrawn.hbs"

[retraction.translations.es]
headline = "Retirado: hervir el agua"
template = "boil/es/withdrawn.hbs"

[retraction.translations.zh-Hans]
headline = "撤回：煮沸饮用水"
template = "boil/zh-Hans/withdrawn.hbs"
"#;

pub(crate) const TEMPLATES: [(&str, &str); 9] = [
    (
        "boil/alert.hbs",
        "Boil tap water in {{area}} until {{until}}. The cause: {{cause}}.\n",
    ),
    ("boil/alert.x.hbs", "Boil water in {{area}}: {{cause}}.\n"),
    (
        "boil/es/alert.hbs",
        "Hierva el agua del grifo en {{area}} hasta el {{until}}. La causa: {{cause}}.\n",
    ),
    (
        "boil/es/alert.x.hbs",
        "Hierva el agua en {{area}}: {{cause}}.\n",
    ),
    (
        "boil/zh-Hans/alert.hbs",
        "{{area}}居民请将自来水煮沸后饮用，直至{{until}}。原因：{{cause}}。\n",
    ),
    (
        "boil/zh-Hans/alert.x.hbs",
        "{{area}}：请将自来水煮沸后饮用。原因：{{cause}}。\n",
    ),
    (
        "boil/withdrawn.hbs",
        "The boil-water notice was withdrawn.\n",
    ),
    (
        "boil/es/withdrawn.hbs",
        "El aviso de hervir el agua fue retirado.\n",
    ),
    ("boil/zh-Hans/withdrawn.hbs", "煮沸饮用水通知已撤回。\n"),
];

fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap()
}

fn load(playbook: &str) -> (tempfile::TempDir, Library, Composer) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("playbooks")).unwrap();
    std::fs::write(p.join("playbooks/boil.toml"), playbook).unwrap();
    for (name, body) in TEMPLATES {
        let file = p.join("templates").join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let library = Library::load(&p.join("playbooks"), &p.join("templates")).unwrap();
    let composer = Composer::new(
        library.templates().clone(),
        PhiGuard::new(&PhiConfig::default()).unwrap(),
        PlatformLimits::default(),
        crate::counting::test_rules(),
    );
    (dir, library, composer)
}

fn problems(src: &str) -> Vec<String> {
    match parse_playbook(Path::new("boil.toml"), src) {
        Ok(_) => panic!("should be refused"),
        Err(p) => p.iter().map(|d| d.to_string()).collect(),
    }
}

/// The 1-based line of the first occurrence of `needle` in `src`.
fn line_of(src: &str, needle: &str) -> usize {
    let at = src.find(needle).unwrap();
    src[..at].lines().count() + usize::from(src[..at].ends_with('\n'))
}

#[test]
fn a_playbook_in_three_languages_parses_with_every_translation() {
    let p = parse_playbook(Path::new("boil.toml"), PLAYBOOK).unwrap();
    assert_eq!(p.languages, [tag("en"), tag("es"), tag("zh-Hans")]);
    assert_eq!(p.language, "en");
    assert_eq!(p.title_in(Some(tag("es"))), "Aviso de hervir el agua");
    assert_eq!(
        p.datetime_format_in(Some(tag("es"))),
        "%A, %-d de %B, %-I:%M %p %Z"
    );
    assert_eq!(
        p.variable_in("cause", tag("zh-Hans")).unwrap().label,
        "原因"
    );
    let step = p.step("alert").unwrap();
    let es = &step.translations[&tag("es")];
    assert_eq!(es.headline, "Hierva el agua: {{area}}");
    assert_eq!(es.template_for(Platform::X), "boil/es/alert.x.hbs");
    assert_eq!(es.template_for(Platform::Mastodon), "boil/es/alert.hbs");
    assert_eq!(
        p.retraction.as_ref().unwrap().translations[&tag("zh-Hans")].template,
        "boil/zh-Hans/withdrawn.hbs"
    );
    // Every language's templates are the playbook's: the content hash covers them.
    let files = p.template_files();
    assert!(
        files.contains(&"boil/zh-Hans/alert.x.hbs".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"boil/es/withdrawn.hbs".to_string()),
        "{files:?}"
    );
}

#[test]
fn a_playbook_without_languages_is_english_only_as_before() {
    let src = r#"id = "x"
title = "T"
description = "D"
timezone = "America/Chicago"
[[steps]]
id = "a"
title = "A"
headline = "H"
template = "x/a.hbs"
"#;
    let p = parse_playbook(Path::new("x.toml"), src).unwrap();
    assert_eq!(p.languages, [LanguageTag::english()]);
    assert!(p.other_languages().is_empty());
    assert!(p.steps[0].translations.is_empty());
}

#[test]
fn a_tag_that_is_not_bcp_47_is_an_error_at_its_line() {
    let src = PLAYBOOK.replace(
        r#"languages = ["en", "es", "zh-Hans"]"#,
        r#"languages = ["en", "Spanish", "zh-Hans"]"#,
    );
    let errs = problems(&src);
    let bad = errs
        .iter()
        .find(|e| e.contains("`Spanish` is not a BCP 47 language tag"))
        .unwrap_or_else(|| panic!("{errs:#?}"));
    assert!(
        bad.starts_with(&format!("boil.toml:{}:", line_of(&src, "languages ="))),
        "{bad}"
    );
}

#[test]
fn a_translation_for_an_undeclared_language_is_an_error_at_its_line() {
    let src = PLAYBOOK.replace(
        r#"languages = ["en", "es", "zh-Hans"]"#,
        r#"languages = ["en", "es"]"#,
    );
    let errs = problems(&src);
    for needle in [
        "[translations.zh-Hans]",
        "translations.zh-Hans = { label = \"地区\"",
        "[steps.translations.zh-Hans]",
        "[retraction.translations.zh-Hans]",
    ] {
        let line = line_of(&src, needle);
        assert!(
            errs.iter()
                .any(|e| e.starts_with(&format!("boil.toml:{line}:"))
                    && e.contains(
                        "translations.zh-Hans is for a language this playbook does not declare"
                    )),
            "{needle} (line {line}): {errs:#?}"
        );
    }
    // A bad tag as a translation key is named too.
    let src = PLAYBOOK.replace("[translations.es]", "[translations.es_MX]");
    let errs = problems(&src);
    assert!(
        errs.iter().any(|e| e.starts_with(&format!(
            "boil.toml:{}:",
            line_of(&src, "[translations.es_MX]")
        )) && e.contains("not a BCP 47")),
        "{errs:#?}"
    );
}

#[test]
fn a_missing_translation_is_an_error_naming_the_file_and_line() {
    // A variant present in the primary language but not in Spanish.
    let src = PLAYBOOK.replace("variants = { x = \"boil/es/alert.x.hbs\" }\n", "");
    let errs = problems(&src);
    let line = line_of(&src, "[steps.translations.es]");
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("boil.toml:{line}:"))
                && e.contains(
                    "missing translation: step `alert` has a `x` variant but none in `es`"
                )),
        "{errs:#?}"
    );
    // A headline.
    let src = PLAYBOOK.replace("headline = \"煮沸饮用水：{{area}}\"\n", "");
    let errs = problems(&src);
    assert!(
        errs.iter().any(|e| e
            .contains("missing translation: step `alert` has no `headline` in `zh-Hans`")
            && e.starts_with(&format!(
                "boil.toml:{}:",
                line_of(&src, "[steps.translations.zh-Hans]")
            ))),
        "{errs:#?}"
    );
    // A whole step.
    let start = PLAYBOOK.find("[steps.translations.zh-Hans]").unwrap();
    let end = PLAYBOOK.find("[retraction]").unwrap();
    let src = format!("{}{}", &PLAYBOOK[..start], &PLAYBOOK[end..]);
    let errs = problems(&src);
    assert!(
        errs.iter().any(|e| e.contains("missing translation: step `alert` has no `zh-Hans` text (add [steps.translations.zh-Hans])")
            && e.starts_with(&format!("boil.toml:{}:", line_of(&src, "id = \"alert\"")))),
        "{errs:#?}"
    );
    // A variable label.
    let src = PLAYBOOK.replace("translations.es = { label = \"Hasta\" }\n", "");
    let errs = problems(&src);
    assert!(
        errs.iter().any(|e| e
            .contains("missing translation: variable `until` has no label in `es`")
            && e.starts_with(&format!("boil.toml:{}:", line_of(&src, "name = \"until\"")))),
        "{errs:#?}"
    );
    // An enum's choices, and choices that do not line up with the primary ones.
    let src = PLAYBOOK.replace(
        "translations.es = { label = \"Motivo\", choices = [\"una rotura de tubería\", \"baja presión del agua\"] }",
        "translations.es = { label = \"Motivo\", choices = [\"una rotura de tubería\"] }",
    );
    let errs = problems(&src);
    assert!(
        errs.iter()
            .any(|e| e.contains("1 choices in `es` for 2 in the primary language")),
        "{errs:#?}"
    );
    assert_eq!(errs.len(), 1, "{errs:#?}");
}

#[test]
fn every_language_is_rendered_with_its_own_dates_choices_and_counts() {
    let (_dir, library, composer) = load(PLAYBOOK);
    assert!(
        library.diagnostics().is_empty(),
        "{:?}",
        library.diagnostics()
    );
    let p = library.get("boil").unwrap();
    let c = composer
        .compose(
            p,
            "alert",
            &p.example_values(),
            &[Platform::X, Platform::Mastodon, Platform::Sms],
            ComposeOptions::default(),
        )
        .unwrap();
    assert_eq!(c.language, tag("en"));
    assert_eq!(c.headline, "Boil water: North Side");
    let mastodon = c
        .variant(VariantTarget::Platform(Platform::Mastodon))
        .unwrap();
    assert!(
        mastodon
            .text
            .starts_with("Boil tap water in North Side until Tuesday, July 14 at 9:30 AM CDT. The cause: a water main break."),
        "{}",
        mastodon.text
    );
    assert_eq!(
        mastodon.readability.as_ref().unwrap().formula,
        "Flesch–Kincaid grade level"
    );

    let langs: Vec<LanguageTag> = c.translations.iter().map(|t| t.language).collect();
    assert_eq!(langs, [tag("es"), tag("zh-Hans")]);
    let es = &c.translations[0];
    assert_eq!(es.language_name, "Español");
    assert_eq!(es.headline, "Hierva el agua: North Side");
    let es_mastodon = es
        .variants
        .iter()
        .find(|v| v.target == VariantTarget::Platform(Platform::Mastodon))
        .unwrap();
    assert_eq!(es_mastodon.language, tag("es"));
    assert!(
        es_mastodon.text.starts_with(
            "Hierva el agua del grifo en North Side hasta el martes, 14 de julio, 9:30 a. m. CDT. La causa: una rotura de tubería."
        ),
        "{}",
        es_mastodon.text
    );
    assert_eq!(
        es_mastodon.readability.as_ref().unwrap().formula,
        "Fernández Huerta"
    );

    let zh = &c.translations[1];
    assert_eq!(zh.language_name, "中文(简体)");
    let zh_x = zh
        .variants
        .iter()
        .find(|v| v.target == VariantTarget::Platform(Platform::X))
        .unwrap();
    assert_eq!(
        zh_x.text,
        "North Side：请将自来水煮沸后饮用。原因：主水管破裂。 #BoilWater"
    );
    // X counts CJK characters (and full-width punctuation) as two: 21 of them, 21 ASCII.
    let m = zh_x.measurement.as_ref().unwrap();
    assert_eq!(zh_x.text.chars().filter(|c| !c.is_ascii()).count(), 21);
    assert_eq!(m.used, 21 * 2 + 21, "{m:?}");
    assert!(zh_x.readability.is_none(), "no reading grade for zh-Hans");
    let zh_mastodon = zh
        .variants
        .iter()
        .find(|v| v.target == VariantTarget::Platform(Platform::Mastodon))
        .unwrap();
    assert!(
        zh_mastodon
            .text
            .starts_with("North Side居民请将自来水煮沸后饮用，直至7月14日（星期二）上午9:30 CDT。"),
        "{}",
        zh_mastodon.text
    );
    // Mastodon counts characters: each CJK character once.
    assert_eq!(
        zh_mastodon.measurement.as_ref().unwrap().used,
        zh_mastodon.text.chars().count()
    );
    assert!(!c.is_blocked());

    // Each language's texts are stored under their own names; the primary keeps its own.
    let names: Vec<String> = c
        .translated_texts()
        .iter()
        .map(|(t, _)| t.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "headline.es",
            "x.es",
            "mastodon.es",
            "sms.es",
            "headline.zh-Hans",
            "x.zh-Hans",
            "mastodon.zh-Hans",
            "sms.zh-Hans"
        ]
    );
}

#[test]
fn an_over_long_translation_blocks_approval_like_the_primary() {
    let long = "请将自来水煮沸后饮用。".repeat(15);
    let src = PLAYBOOK.to_string();
    let (dir, _library, _composer) = load(&src);
    std::fs::write(
        dir.path().join("templates/boil/zh-Hans/alert.x.hbs"),
        format!("{long}\n"),
    )
    .unwrap();
    let library =
        Library::load(&dir.path().join("playbooks"), &dir.path().join("templates")).unwrap();
    let composer = Composer::new(
        library.templates().clone(),
        PhiGuard::new(&PhiConfig::default()).unwrap(),
        PlatformLimits::default(),
        crate::counting::test_rules(),
    );
    let p = library.get("boil").unwrap();
    let c = composer
        .compose(
            p,
            "alert",
            &p.example_values(),
            &[Platform::X],
            ComposeOptions::default(),
        )
        .unwrap();
    // 165 characters: under X's 280 if counted once, over it counted as X counts them.
    assert_eq!(long.chars().count(), 165);
    assert!(c.translations[1].is_blocked());
    assert!(c.is_blocked());
    assert!(!c.translations[0].is_blocked());
    let lint = crate::lint::lint(&library, &composer);
    assert!(
        lint.iter().any(|d| d.is_error()
            && d.message.contains("on X (zh-Hans)")
            && d.to_string().starts_with(&format!("{}:", p.path.display()))),
        "{lint:#?}"
    );
}

#[test]
fn text_targets_in_other_languages_round_trip_and_name_no_platform() {
    let t = TextTarget::InLanguage(
        tag("es"),
        LanguageText::Variant(VariantTarget::Platform(Platform::X)),
    );
    assert_eq!(t.as_str(), "x.es");
    assert_eq!(TextTarget::parse("x.es"), Some(t));
    assert_eq!(
        t.platform(),
        None,
        "a Spanish X text is never picked as X's text"
    );
    assert_eq!(t.display_name(), "X (Español)");
    let h = TextTarget::InLanguage(tag("zh-Hans"), LanguageText::Headline);
    assert_eq!(TextTarget::parse(&h.as_str()), Some(h));
    assert_eq!(h.as_str(), "headline.zh-Hans");
    // The primary names are unchanged; odd names are refused.
    assert_eq!(TextTarget::Headline.as_str(), "headline");
    for bad in ["x.zh-hans", "wea_en_short.es", "x.", "nope.es", "x.es.es"] {
        assert_eq!(TextTarget::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_content_hash_changes_when_a_translation_changes() {
    let (dir, library, _) = load(PLAYBOOK);
    let before = library.content_hash("boil").unwrap();
    std::fs::write(
        dir.path().join("templates/boil/es/alert.x.hbs"),
        "Hierva el agua en {{area}}.\n",
    )
    .unwrap();
    let after = Library::load(&dir.path().join("playbooks"), &dir.path().join("templates"))
        .unwrap()
        .content_hash("boil")
        .unwrap();
    assert_ne!(before, after);
    // And when a translated text inside the playbook file changes.
    std::fs::write(
        dir.path().join("playbooks/boil.toml"),
        PLAYBOOK.replace("Hierva el agua: {{area}}", "Hierva el agua en {{area}}"),
    )
    .unwrap();
    let edited = Library::load(&dir.path().join("playbooks"), &dir.path().join("templates"))
        .unwrap()
        .content_hash("boil")
        .unwrap();
    assert_ne!(after, edited);
}

#[test]
fn lint_grades_each_language_with_its_own_formula() {
    let (_dir, library, composer) = load(PLAYBOOK);
    let lint = crate::lint::lint(&library, &composer);
    assert!(lint.iter().all(|d| !d.is_error()), "{lint:#?}");
    let grades = crate::lint::reading_grades(&library, &composer);
    let alert: BTreeMap<&str, Option<&str>> = grades
        .iter()
        .filter(|r| r.step == "alert")
        .map(|r| (r.language.as_str(), r.formula))
        .collect();
    assert_eq!(alert["en"], Some("Flesch–Kincaid grade level"));
    assert_eq!(alert["es"], Some("Fernández Huerta"));
    assert_eq!(alert["zh-Hans"], None);
    assert!(grades
        .iter()
        .filter(|r| r.language == "zh-Hans")
        .all(|r| r.grades.is_empty() && !r.primary));
}

//! Cards through the public surface: a library on disk, the composer, the renderer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tocsin_cards::{
    lint_cards, CardError, CardRenderer, CardSize, CardStyle, Overflow, TemplateError,
};
use tocsin_domain::compose::Composer;
use tocsin_domain::counting::{CountingRules, PlatformLimits};
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};

fn composer(library: &Library) -> Composer {
    Composer::new(
        library.templates().clone(),
        PhiGuard::new(&PhiConfig::default()).unwrap(),
        PlatformLimits::default(),
        CountingRules::default(),
    )
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h)
}

const PLAYBOOK: &str = r#"
id = "notice"
title = "Notice"
description = "A test notice."
timezone = "America/Chicago"

[[variables]]
name = "area"
type = "text"
label = "Area"
max_length = 2000
example = "North Side"

[[steps]]
id = "alert"
title = "Alert"
headline = "Notice for {{area}}"
template = "notice/alert.hbs"

[steps.card]
template = "notice/card.svg.hbs"
facts = ["Stay inside in {{area}}", "Call 311 for help"]
alt = "{{card.headline}}. {{#each card.facts}}{{this}}. {{/each}}"
"#;

const CARD: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="{{card.width}}" height="{{card.height}}">
<rect width="{{card.width}}" height="{{card.height}}" fill="{{card.style.background}}"/>
{{fit card.headline x=60 y=60 width=900 height=240 size=80 min=48 weight="bold"}}
{{fit card.facts x=60 y=340 width=900 height=240 size=48 min=40}}
<text x="60" y="640" font-size="40">{{card.organisation}} &amp; {{area}}</text>
</svg>
"#;

struct Setup {
    _dir: tempfile::TempDir,
    library: Library,
}

fn setup_with(playbook: &str, card: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let playbooks = dir.path().join("playbooks");
    let templates = dir.path().join("templates/notice");
    std::fs::create_dir_all(&playbooks).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(playbooks.join("notice.toml"), playbook).unwrap();
    std::fs::write(templates.join("alert.hbs"), "Notice for {{area}}.").unwrap();
    std::fs::write(templates.join("card.svg.hbs"), card).unwrap();
    let library = Library::load(&playbooks, &dir.path().join("templates")).unwrap();
    assert!(
        library.diagnostics().is_empty(),
        "{:?}",
        library.diagnostics()
    );
    Setup { _dir: dir, library }
}

fn render(s: &Setup, area: &str, size: CardSize) -> Result<tocsin_cards::RenderedCard, CardError> {
    let renderer = CardRenderer::new(&s.library, CardStyle::default()).unwrap();
    assert!(renderer.problems().is_empty(), "{:?}", renderer.problems());
    let playbook = s.library.get("notice").unwrap();
    let values = BTreeMap::from([("area".to_string(), area.to_string())]);
    renderer.render_step(&composer(&s.library), playbook, "alert", &values, size)
}

#[test]
fn a_card_is_a_png_of_each_size_with_its_alt_text() {
    let s = setup_with(PLAYBOOK, CARD);
    for size in CardSize::ALL {
        let card = render(&s, "North Side & <Loop>", size).unwrap();
        assert_eq!(png_size(&card.png), (size.width(), size.height()));
        assert_eq!(
            card.alt,
            "Notice for North Side & <Loop>. Stay inside in North Side & <Loop>. Call 311 for help."
        );
    }
}

#[test]
fn the_same_values_give_the_same_bytes() {
    let s = setup_with(PLAYBOOK, CARD);
    let a = render(&s, "North Side", CardSize::Instagram).unwrap();
    let b = render(&s, "North Side", CardSize::Instagram).unwrap();
    assert_eq!(a.png, b.png);
    let c = render(&s, "South Side", CardSize::Instagram).unwrap();
    assert_ne!(a.png, c.png, "different values draw a different card");
}

#[test]
fn a_long_headline_is_shrunk_and_a_longer_one_refused_naming_the_field() {
    let s = setup_with(PLAYBOOK, CARD);
    // Too long for one line at 80 px, fits when shrunk.
    let medium = "the North Side between Devon Avenue and Howard Street, ZIP codes 60626 and 60660";
    render(&s, medium, CardSize::Landscape).unwrap();
    let long = "the North Side between Devon Avenue and Howard Street ".repeat(8);
    let err = render(&s, &long, CardSize::Landscape).unwrap_err();
    match err.overflow() {
        Some(Overflow::TooTall { field, min, .. }) => {
            assert_eq!(field, "card.headline");
            assert_eq!(*min, 48.0);
        }
        other => panic!("expected an overflow of card.headline, got {other:?} ({err})"),
    }
    assert!(
        err.to_string().contains("`card.headline` does not fit"),
        "{err}"
    );
}

#[test]
fn a_template_naming_a_missing_value_is_an_error_naming_it_at_render_and_lint() {
    let card = CARD.replace("{{area}}</text>", "{{aera}}</text>");
    let s = setup_with(PLAYBOOK, &card);
    let err = render(&s, "North Side", CardSize::Instagram).unwrap_err();
    assert!(
        matches!(&err, CardError::Template(TemplateError::MissingValue { value, .. }) if value == "aera"),
        "{err}"
    );
    assert!(err.to_string().contains("`aera`"), "{err}");
    let renderer = CardRenderer::new(&s.library, CardStyle::default()).unwrap();
    let problems = lint_cards(&s.library, &composer(&s.library), &renderer);
    assert_eq!(problems.len(), 2, "one per size: {problems:?}");
    assert!(
        problems.iter().all(|p| p.to_string().contains("`aera`")),
        "{problems:?}"
    );
}

#[test]
fn an_unescaped_value_is_refused_when_the_template_loads() {
    let card = CARD.replace("{{area}}</text>", "{{{area}}}</text>");
    let s = setup_with(PLAYBOOK, &card);
    let renderer = CardRenderer::new(&s.library, CardStyle::default()).unwrap();
    assert_eq!(renderer.problems().len(), 1);
    assert!(
        renderer.problems()[0].to_string().contains("unescaped"),
        "{:?}",
        renderer.problems()
    );
    let problems = lint_cards(&s.library, &composer(&s.library), &renderer);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn a_card_whose_text_may_carry_phi_is_not_drawn() {
    let playbook = PLAYBOOK.replace("\"Call 311 for help\"", "\"Patient MRN 4455667 was seen\"");
    let s = setup_with(&playbook, CARD);
    let err = render(&s, "North Side", CardSize::Landscape).unwrap_err();
    assert!(
        matches!(&err, CardError::Phi(p) if p.iter().any(|m| m.contains("card fact 2"))),
        "{err}"
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_shipped_card_renders_with_its_playbooks_examples() {
    let root = repo();
    let library = Library::load(&root.join("playbooks"), &root.join("templates")).unwrap();
    let renderer = CardRenderer::new(&library, CardStyle::default()).unwrap();
    let composer = composer(&library);
    assert!(renderer.problems().is_empty(), "{:?}", renderer.problems());
    let problems = lint_cards(&library, &composer, &renderer);
    assert!(problems.is_empty(), "{problems:#?}");
    let alerts = [
        "boil-water",
        "shelter-in-place",
        "extreme-heat",
        "air-quality",
        "measles-exposure",
        "service-disruption",
        "all-clear",
    ];
    for id in alerts {
        let playbook = library.get(id).unwrap_or_else(|| panic!("{id} loads"));
        let step = playbook
            .steps
            .iter()
            .find(|s| s.card.is_some())
            .unwrap_or_else(|| panic!("alert playbook {id} has a card"));
        for size in CardSize::ALL {
            let card = renderer
                .render_step(
                    &composer,
                    playbook,
                    &step.id,
                    &playbook.example_values(),
                    size,
                )
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(png_size(&card.png), (size.width(), size.height()));
            assert!(card.alt.len() > 40, "{id}: {}", card.alt);
        }
    }
}

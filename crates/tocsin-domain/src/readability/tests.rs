//! The formulas against published worked examples, syllables of known words, and the
//! masking, passive-voice and jargon rules.

use super::*;

fn counts_of(text: &str, language: Language) -> Counts {
    let r = assess(text, language);
    Counts {
        words: r.words,
        sentences: r.sentence_lengths.len(),
        syllables: r.syllables,
    }
}

// Wikipedia, "Flesch–Kincaid readability tests" (Flesch reading ease section), gives
// "The cat sat on the mat." a reading ease of 116 and "The Australian platypus is
// seemingly a hybrid of a mammal and reptilian creature." 37.5 (13 words, 24 syllables).
#[test]
fn the_flesch_examples_score_as_published() {
    let cat = counts_of("The cat sat on the mat.", Language::En);
    assert_eq!(
        cat,
        Counts {
            words: 6,
            sentences: 1,
            syllables: 6
        }
    );
    assert_eq!(flesch_reading_ease(cat).round(), 116.0);

    let platypus = counts_of(
        "The Australian platypus is seemingly a hybrid of a mammal and reptilian creature.",
        Language::En,
    );
    assert_eq!(
        platypus,
        Counts {
            words: 13,
            sentences: 1,
            syllables: 24
        }
    );
    let ease = flesch_reading_ease(platypus);
    assert!((ease - 37.5).abs() < 0.05, "{ease}");
    // The grade level of the same counts, by Kincaid et al.'s formula: 11.3.
    let grade = flesch_kincaid_grade(platypus);
    assert!((grade - 11.3).abs() < 0.05, "{grade}");
    let report = assess(
        "The Australian platypus is seemingly a hybrid of a mammal and reptilian creature.",
        Language::En,
    );
    assert_eq!(report.grade, 11.3);
    assert_eq!(report.formula, "Flesch–Kincaid grade level");
}

// Kincaid et al. (1975): the grade formula's constants. A text of 100 words, 5 sentences
// and 140 syllables: 0.39 · 20 + 11.8 · 1.4 − 15.59 = 8.73.
#[test]
fn the_kincaid_formula_weighs_sentence_and_word_length() {
    let c = Counts {
        words: 100,
        sentences: 5,
        syllables: 140,
    };
    assert!((flesch_kincaid_grade(c) - 8.73).abs() < 1e-9);
    let longer = Counts { sentences: 4, ..c };
    assert!(flesch_kincaid_grade(longer) > flesch_kincaid_grade(c));
    let empty = Counts {
        words: 0,
        sentences: 0,
        syllables: 0,
    };
    assert_eq!(flesch_kincaid_grade(empty), 0.0);
}

// Fernández Huerta (1959), as corrected by Law (2011): P syllables per 100 words, F words
// per sentence. 100 words of 185 syllables in 8 sentences: 206.84 − 111 − 12.75 = 83.09,
// "fácil (5º grado)".
#[test]
fn fernandez_huerta_scores_and_maps_to_its_table() {
    let c = Counts {
        words: 100,
        sentences: 8,
        syllables: 185,
    };
    let l = fernandez_huerta(c);
    assert!((l - 83.09).abs() < 1e-9, "{l}");
    assert_eq!(fernandez_huerta_band(l).label, "fácil (5º grado)");
    assert_eq!(fernandez_huerta_band(l).grade, 5.0);
    // The per-100 scaling: the same proportions in 50 words score the same.
    let half = Counts {
        words: 50,
        sentences: 4,
        syllables: 185 / 2 + 1,
    };
    assert!((fernandez_huerta(half) - (206.84 - 0.60 * 186.0 - 1.02 * 12.5)).abs() < 1e-9);
    // Shorter sentences read easier, never harder: the same words in 16 sentences.
    let shorter = Counts { sentences: 16, ..c };
    assert!(
        fernandez_huerta(shorter) > l,
        "{}",
        fernandez_huerta(shorter)
    );
    for (score, grade) in [
        (95.0, 4.0),
        (85.0, 5.0),
        (75.0, 6.0),
        (65.0, 8.0),
        (55.0, 12.0),
        (40.0, 14.0),
        (10.0, 16.0),
        (120.0, 4.0),
        (-5.0, 16.0),
    ] {
        assert_eq!(fernandez_huerta_band(score).grade, grade, "{score}");
    }
}

#[test]
fn spanish_words_have_their_known_syllables() {
    for (word, n) in [
        ("agua", 2),
        ("ciudad", 2),
        ("país", 2),
        ("poeta", 3),
        ("murciélago", 4),
        ("guerra", 2),
        ("guía", 2),
        ("pingüino", 3),
        ("Uruguay", 3),
        ("buey", 1),
        ("hoy", 1),
        ("y", 1),
        ("leer", 2),
        ("aéreo", 4),
        ("oído", 3),
        ("río", 2),
        ("quiero", 2),
        ("que", 1),
        ("salud", 2),
        ("hospital", 3),
        ("enfermedad", 4),
        ("vacunación", 4),
        ("prohibir", 3),
        ("hervir", 2),
        ("Teléfono", 4),
        ("inmediatamente", 6),
    ] {
        assert_eq!(spanish_syllables(word), n, "{word}");
    }
}

#[test]
fn english_words_have_their_usual_syllables() {
    for (word, n) in [
        ("the", 1),
        ("water", 2),
        ("boil", 1),
        ("boiled", 1),
        ("needed", 2),
        ("makes", 1),
        ("boxes", 2),
        ("changes", 2),
        ("table", 2),
        ("people", 2),
        ("advisory", 4),
        ("immediately", 5),
        ("situation", 4),
        ("radio", 3),
        ("fluoride", 3),
        ("society", 4),
        ("serious", 3),
        ("delicious", 3),
        ("tried", 1),
        ("cities", 2),
        ("yes", 1),
        ("creature", 2),
        ("Australian", 3),
    ] {
        assert_eq!(english_syllables(word), n, "{word}");
    }
}

#[test]
fn links_hashtags_and_handles_are_not_words_and_keep_offsets() {
    let text = "Boil water. Details: https://health.example.gov/water. Ask @CityHealth@social.example or mail help@example.gov #BoilWater";
    let masked = mask_non_prose(text);
    assert_eq!(masked.len(), text.len());
    assert!(!masked.contains("https"));
    assert!(!masked.contains("CityHealth"));
    assert!(!masked.contains("BoilWater"));
    assert!(!masked.contains("help@"));
    // The full stop after the link still ends its sentence.
    let r = assess(text, Language::En);
    assert_eq!(r.sentence_lengths, vec![2, 1, 3], "{r:?}");
    // Hyphens and hashes inside words are left alone.
    assert_eq!(mask_non_prose("C# and semi-final"), "C# and semi-final");
}

#[test]
fn sentences_end_at_full_stops_and_line_breaks() {
    let r = assess(
        "Do not drink tap water. Boil it for one minute, then let it cool\nQuestions: call us",
        Language::En,
    );
    assert_eq!(r.sentence_lengths, vec![5, 9, 3]);
    assert_eq!(r.longest_sentence, 9);
    assert_eq!(r.average_sentence_length, 5.7);
    // Numbers are not words.
    assert_eq!(assess("Call 311 at 9:30.", Language::En).words, 2);
}

#[test]
fn english_passive_voice_is_found_with_its_offsets() {
    let text = "The advisory was lifted. Water is being tested and is not considered safe. Residents are asked to boil water. The crews were told. We boil water.";
    let r = assess(text, Language::En);
    let phrases: Vec<&str> = r.passive.iter().map(|h| h.phrase.as_str()).collect();
    assert_eq!(
        phrases,
        [
            "was lifted",
            "is being tested",
            "is not considered",
            "are asked",
            "were told"
        ]
    );
    let first = &r.passive[0];
    assert_eq!(text.get(first.start..first.end), Some("was lifted"));
    // Adjectives and nouns after "is" are not passive.
    assert!(assess("The water is safe. This is a need.", Language::En)
        .passive
        .is_empty());
}

#[test]
fn spanish_passive_with_ser_is_found_and_se_pasiva_refleja_is_not() {
    let r = assess(
        "La advertencia fue levantada. Las muestras son analizadas. El aviso ha sido escrito por la ciudad.",
        Language::Es,
    );
    let phrases: Vec<&str> = r.passive.iter().map(|h| h.phrase.as_str()).collect();
    assert_eq!(phrases, ["fue levantada", "son analizadas", "sido escrito"]);
    let r = assess(
        "Se recomienda hervir el agua. Se analizaron las muestras. No es nada. Es cada día.",
        Language::Es,
    );
    assert!(r.passive.is_empty(), "{:?}", r.passive);
}

#[test]
fn jargon_is_found_with_plain_replacements_longest_term_first() {
    let text = "Tap water is not potable. Do not ingest it. Shelter in place prior to noon.";
    let r = assess(text, Language::En);
    let found: Vec<(&str, &str)> = r
        .jargon
        .iter()
        .map(|h| (h.term.as_str(), h.replacement.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("potable", "safe to drink"),
            ("ingest", "swallow"),
            ("Shelter in place", "stay inside"),
            ("prior to", "before"),
        ]
    );
    let es = assess("El agua potable está contaminada.", Language::Es);
    assert_eq!(es.jargon.len(), 2, "{:?}", es.jargon);
    assert_eq!(es.jargon[0].term, "agua potable");
    assert_eq!(es.jargon[0].replacement, "agua segura para beber");
}

#[test]
fn the_shipped_jargon_lists_are_long_enough_and_well_formed() {
    let en = jargon_list(Language::En);
    let es = jargon_list(Language::Es);
    assert!(en.len() >= 60, "{}", en.len());
    assert!(es.len() >= 30, "{}", es.len());
    for entry in en.iter().chain(es) {
        assert!(
            !entry.term.is_empty() && !entry.replacement.is_empty(),
            "{entry:?}"
        );
    }
    for (term, plain) in [("potable", "safe to drink"), ("ingest", "swallow")] {
        assert!(
            en.iter().any(|e| e.term == term && e.replacement == plain),
            "{term}"
        );
    }
}

#[test]
fn spanish_text_is_graded_with_fernandez_huerta() {
    let r = assess(
        "Hierva el agua un minuto. Use agua hervida para beber y cocinar.",
        Language::Es,
    );
    assert_eq!(r.formula, "Fernández Huerta");
    assert_eq!(r.words, 12);
    let expected = fernandez_huerta(Counts {
        words: 12,
        sentences: 2,
        syllables: r.syllables,
    });
    assert_eq!(r.ease, (expected * 10.0).round() / 10.0);
    assert_eq!(r.grade, fernandez_huerta_band(expected).grade);
    assert!(r.band.is_some());
}

#[test]
fn html_email_is_graded_on_its_text() {
    let r = assess_html(
        "<p>Boil your water.</p><p>Use bottled water &amp; ice<br>Call us</p>",
        Language::En,
    );
    assert_eq!(r.sentence_lengths, vec![3, 4, 2]);
}

#[test]
fn language_tags_are_read_by_their_primary_subtag() {
    assert_eq!(Language::of_tag("en"), Some(Language::En));
    assert_eq!(Language::of_tag("es-419"), Some(Language::Es));
    assert_eq!(Language::of_tag("EN-us"), Some(Language::En));
    assert_eq!(Language::of_tag("fr"), None);
    assert!(is_language_tag("es-MX"));
    assert!(is_language_tag("en"));
    assert!(!is_language_tag("english"));
    assert!(!is_language_tag("e"));
    assert!(!is_language_tag("en_US"));
}

proptest::proptest! {
    #[test]
    fn any_text_is_graded_without_panicking_and_masking_keeps_its_length(text in "\\PC{0,80}") {
        proptest::prop_assert_eq!(mask_non_prose(&text).len(), text.len());
        for language in [Language::En, Language::Es] {
            let r = assess(&text, language);
            proptest::prop_assert_eq!(r.sentence_lengths.iter().sum::<usize>(), r.words);
            for hit in &r.jargon {
                proptest::prop_assert_eq!(text.get(hit.start..hit.end), Some(hit.term.as_str()));
            }
            let _ = assess_html(&text, language);
        }
    }

    #[test]
    fn every_word_has_at_least_one_syllable(word in "[a-zA-Záéíóúüñ]{1,12}") {
        proptest::prop_assert!(english_syllables(&word) >= 1);
        proptest::prop_assert!(spanish_syllables(&word) >= 1);
    }
}

#[test]
fn sentence_ends_need_a_space_and_no_lower_case_after_them() {
    let lengths = |text: &str| assess(text, Language::En).sentence_lengths;
    assert_eq!(
        lengths("Open 8 a.m. to noon. Bring 2.5 liters."),
        vec![5, 2]
    );
    assert_eq!(
        lengths("Is it safe? No!! Boil it…  Then drink."),
        vec![3, 1, 2, 2]
    );
    assert_eq!(lengths("They said “boil it.” Then wait."), vec![4, 2]);
    assert_eq!(lengths("Visit health.gov/water.Then call"), vec![6]);
    assert_eq!(lengths("No full stop at the end"), vec![6]);
    // Words: apostrophes inside, hyphens between, numbers not words.
    let r = assess(
        "Don't drink non-potable water at 9:30 or 10,000 ft.",
        Language::En,
    );
    assert_eq!(r.words, 8);
    assert_eq!(r.jargon[0].term, "non-potable");
}

//! Passive voice: a form of "be" (Spanish "ser") followed, after at most one adverb, by
//! a past participle (regular -ed / -ado, -ido, or a common irregular). Spanish "se"
//! pasiva refleja ("se recomienda hervir el agua") is plain enough and not flagged.

use super::{Language, PassiveHit, Word};

const BE_EN: [&str; 8] = ["am", "is", "are", "was", "were", "be", "been", "being"];

const ADVERBS_EN: [&str; 8] = [
    "not", "also", "now", "still", "being", "already", "never", "often",
];

/// Common irregular past participles (the regular ones end in -ed).
const IRREGULAR_EN: &[&str] = &[
    "arisen",
    "awoken",
    "beaten",
    "become",
    "begun",
    "bent",
    "bitten",
    "bled",
    "blown",
    "born",
    "borne",
    "bought",
    "bound",
    "bred",
    "broken",
    "brought",
    "broadcast",
    "built",
    "burnt",
    "caught",
    "chosen",
    "cut",
    "dealt",
    "done",
    "drawn",
    "driven",
    "drunk",
    "dug",
    "eaten",
    "fallen",
    "fed",
    "felt",
    "fought",
    "found",
    "fled",
    "flown",
    "forbidden",
    "forecast",
    "forgiven",
    "forgotten",
    "frozen",
    "given",
    "gone",
    "grown",
    "heard",
    "held",
    "hidden",
    "hit",
    "hung",
    "hurt",
    "kept",
    "known",
    "laid",
    "led",
    "left",
    "lent",
    "lit",
    "lost",
    "made",
    "meant",
    "met",
    "mistaken",
    "overcome",
    "overtaken",
    "paid",
    "put",
    "quit",
    "read",
    "rebuilt",
    "ridden",
    "rung",
    "risen",
    "run",
    "said",
    "seen",
    "sent",
    "set",
    "shaken",
    "shed",
    "shot",
    "shown",
    "shut",
    "sold",
    "sought",
    "spent",
    "split",
    "spoken",
    "spread",
    "stolen",
    "struck",
    "stuck",
    "stung",
    "sung",
    "sunk",
    "sworn",
    "swept",
    "swollen",
    "taken",
    "taught",
    "thought",
    "thrown",
    "told",
    "torn",
    "understood",
    "undertaken",
    "upheld",
    "upset",
    "withdrawn",
    "withheld",
    "woken",
    "won",
    "worn",
    "written",
];

/// Words ending in -ed that are not participles.
const NOT_PARTICIPLES_EN: &[&str] = &[
    "bed", "red", "need", "seed", "feed", "speed", "breed", "bleed", "greed", "hundred", "indeed",
    "sacred", "naked", "wicked", "kindred", "shed", "wed", "embed",
];

const SER_ES: &[&str] = &[
    "ser",
    "soy",
    "eres",
    "es",
    "somos",
    "sois",
    "son",
    "era",
    "eras",
    "éramos",
    "erais",
    "eran",
    "fui",
    "fuiste",
    "fue",
    "fuimos",
    "fuisteis",
    "fueron",
    "seré",
    "serás",
    "será",
    "seremos",
    "seréis",
    "serán",
    "sería",
    "serías",
    "seríamos",
    "seríais",
    "serían",
    "sea",
    "seas",
    "seamos",
    "seáis",
    "sean",
    "fuera",
    "fueras",
    "fuéramos",
    "fuerais",
    "fueran",
    "fuese",
    "fuesen",
    "sido",
    "siendo",
];

/// Irregular participles (their feminine and plural forms are found by stem).
const IRREGULAR_ES: &[&str] = &[
    "abiert",
    "cubiert",
    "descubiert",
    "dich",
    "escrit",
    "hech",
    "impres",
    "muert",
    "puest",
    "resuelt",
    "rot",
    "vist",
    "vuelt",
    "devuelt",
    "provist",
    "frit",
    "dispuest",
    "propuest",
    "expuest",
    "suspendid",
];

/// Nouns and pronouns with a participle's ending.
const NOT_PARTICIPLES_ES: &[&str] = &[
    "nada",
    "cada",
    "vida",
    "comida",
    "salida",
    "medida",
    "medidas",
    "bebida",
    "bebidas",
    "llegada",
    "entrada",
    "mirada",
    "jornada",
    "temporada",
    "parada",
    "partido",
    "sentido",
    "ruido",
    "nido",
    "todo",
    "todos",
    "lado",
    "estado",
    "pasado",
    "mercado",
    "grado",
    "soldado",
    "cuidado",
    "helado",
    "pescado",
];

fn is_participle_en(w: &str) -> bool {
    if NOT_PARTICIPLES_EN.contains(&w) {
        return false;
    }
    (w.len() >= 4 && w.ends_with("ed")) || IRREGULAR_EN.contains(&w)
}

fn is_participle_es(w: &str) -> bool {
    if NOT_PARTICIPLES_ES.contains(&w) {
        return false;
    }
    let regular = ["ado", "ada", "ados", "adas", "ido", "ida", "idos", "idas"]
        .iter()
        .any(|end| w.len() > end.len() + 1 && w.ends_with(end));
    let stem = w
        .strip_suffix("os")
        .or_else(|| w.strip_suffix("as"))
        .or_else(|| w.strip_suffix('o'))
        .or_else(|| w.strip_suffix('a'));
    regular || stem.is_some_and(|s| IRREGULAR_ES.contains(&s))
}

fn is_adverb(w: &str, language: Language) -> bool {
    match language {
        Language::En => ADVERBS_EN.contains(&w) || (w.len() > 4 && w.ends_with("ly")),
        Language::Es => w.ends_with("mente") || matches!(w, "no" | "ya" | "también" | "siempre"),
    }
}

/// The passive constructions among `words` (words of one text, in order, with offsets
/// into `text`). A construction does not cross a sentence: the words between must be
/// separated by spaces only.
/// `lowered` holds the words in lower case.
pub(crate) fn find(
    text: &str,
    words: &[Word<'_>],
    lowered: &[String],
    language: Language,
) -> Vec<PassiveHit> {
    let mut hits = Vec::new();
    let adjacent = |a: &Word<'_>, b: &Word<'_>| {
        text.get(a.end()..b.start)
            .is_some_and(|gap| gap.chars().all(|c| c == ' ' || c == '\u{a0}'))
    };
    let mut i = 0;
    while i < words.len() {
        let (Some(aux), Some(aux_lower)) = (words.get(i), lowered.get(i)) else {
            break;
        };
        let is_aux = match language {
            Language::En => BE_EN.contains(&aux_lower.as_str()),
            Language::Es => SER_ES.contains(&aux_lower.as_str()),
        };
        if !is_aux {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut prev = aux;
        let mut found = None;
        // At most one adverb between (and "being" in "is being repaired").
        for _ in 0..2 {
            let (Some(next), Some(w)) = (words.get(j), lowered.get(j)) else {
                break;
            };
            if !adjacent(prev, next) {
                break;
            }
            let participle = match language {
                Language::En => is_participle_en(w),
                Language::Es => is_participle_es(w),
            };
            if participle {
                found = Some(next);
                break;
            }
            if !is_adverb(w, language) {
                break;
            }
            prev = next;
            j += 1;
        }
        if let Some(end) = found {
            hits.push(PassiveHit {
                phrase: text.get(aux.start..end.end()).unwrap_or("").to_string(),
                start: aux.start,
                end: end.end(),
            });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    hits
}

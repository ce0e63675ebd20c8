//! The readability formulas, over counts of words, sentences and syllables.
//!
//! Flesch–Kincaid grade level: Kincaid, Fishburne, Rogers and Chissom (1975), "Derivation
//! of new readability formulas for Navy enlisted personnel", Research Branch Report 8-75,
//! Naval Technical Training Command. Flesch reading ease: Flesch (1948), "A new
//! readability yardstick", Journal of Applied Psychology 32(3). Fernández Huerta (1959),
//! "Medidas sencillas de lecturabilidad", Consigna 214: 29–32, with P the syllables per
//! 100 words and F the words per sentence as corrected by Gwillim Law (2011), and its
//! published table of school grades.

/// What the formulas count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Words.
    pub words: usize,
    /// Sentences.
    pub sentences: usize,
    /// Syllables in the words.
    pub syllables: usize,
}

impl Counts {
    fn ratios(self) -> Option<(f64, f64)> {
        if self.words == 0 || self.sentences == 0 {
            return None;
        }
        let words = self.words as f64;
        Some((words / self.sentences as f64, self.syllables as f64 / words))
    }
}

/// Flesch–Kincaid grade level: 0.39 · words/sentences + 11.8 · syllables/words − 15.59
/// (0 for a text without words).
pub fn flesch_kincaid_grade(c: Counts) -> f64 {
    c.ratios()
        .map_or(0.0, |(wps, spw)| 0.39 * wps + 11.8 * spw - 15.59)
}

/// Flesch reading ease: 206.835 − 1.015 · words/sentences − 84.6 · syllables/words
/// (higher is easier; 100 for a text without words).
pub fn flesch_reading_ease(c: Counts) -> f64 {
    c.ratios()
        .map_or(100.0, |(wps, spw)| 206.835 - 1.015 * wps - 84.6 * spw)
}

/// Fernández Huerta's lecturabilidad: 206.84 − 0.60 · P − 1.02 · F, with P the syllables
/// per 100 words and F the words per sentence (higher is easier; 100 for a text without
/// words). F is the average sentence length, as in Flesch's formula it adapts: the often
/// printed reading "sentences per 100 words" would make shorter sentences score harder,
/// the error Gwillim Law (2011) pointed out.
pub fn fernandez_huerta(c: Counts) -> f64 {
    if c.words == 0 {
        return 100.0;
    }
    let p = c.syllables as f64 * 100.0 / c.words as f64;
    let f = c.words as f64 / c.sentences.max(1) as f64;
    206.84 - 0.60 * p - 1.02 * f
}

/// A row of Fernández Huerta's table: the score band, its name, and the school grade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuertaBand {
    /// The band's name and school level as the table gives them.
    pub label: &'static str,
    /// The grade compared with `reading_grade_max`: the table's grade (the higher of
    /// "7º u 8º"), and for the levels past primary school the US grade they stand for
    /// (preuniversitario 12, cursos selectivos 14, universitario 16).
    pub grade: f64,
}

/// Fernández Huerta's table (1959), after Flesch's: 90–100 muy fácil (4º grado), 80–90
/// fácil (5º), 70–80 algo fácil (6º), 60–70 normal (7º u 8º), 50–60 algo difícil
/// (preuniversitario), 30–50 difícil (cursos selectivos), 0–30 muy difícil (universitario).
/// A score above 100 is read as the easiest band, below 0 as the hardest.
pub fn fernandez_huerta_band(score: f64) -> HuertaBand {
    let (label, grade) = if score >= 90.0 {
        ("muy fácil (4º grado)", 4.0)
    } else if score >= 80.0 {
        ("fácil (5º grado)", 5.0)
    } else if score >= 70.0 {
        ("algo fácil (6º grado)", 6.0)
    } else if score >= 60.0 {
        ("normal (7º u 8º grado)", 8.0)
    } else if score >= 50.0 {
        ("algo difícil (preuniversitario)", 12.0)
    } else if score >= 30.0 {
        ("difícil (cursos selectivos)", 14.0)
    } else {
        ("muy difícil (universitario)", 16.0)
    };
    HuertaBand { label, grade }
}

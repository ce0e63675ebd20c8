//! Spanish syllables by the rules of the written language: a syllable per vowel nucleus,
//! where two open vowels (a, e, o) are a hiatus, an accented close vowel (í, ú) next to
//! another vowel is a hiatus, and any other meeting of vowels is one nucleus (diphthong
//! or triphthong). The u of que/qui and gue/gui is silent; ü is heard; a final y after a
//! vowel closes a diphthong (hoy, muy), and y alone is a word of one syllable.

fn is_open(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'o' | 'á' | 'é' | 'ó')
}

fn is_accented_close(c: char) -> bool {
    matches!(c, 'í' | 'ú')
}

fn is_vowel(c: char) -> bool {
    is_open(c) || is_accented_close(c) || matches!(c, 'i' | 'u' | 'ü')
}

/// The syllables of one Spanish word (at least 1).
pub fn syllables(word: &str) -> usize {
    let letters: Vec<char> = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    if letters.is_empty() {
        return 1;
    }
    // Each letter as a vowel (Some) or not (None), after the silent u and the final y.
    let n = letters.len();
    let vowels: Vec<Option<char>> = letters
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let prev = i.checked_sub(1).and_then(|p| letters.get(p)).copied();
            let next = letters.get(i + 1).copied();
            match c {
                'u' if matches!(prev, Some('q'))
                    || (prev == Some('g') && matches!(next, Some('e' | 'i' | 'é' | 'í'))) =>
                {
                    None
                }
                'y' if i + 1 == n && (n == 1 || prev.is_some_and(is_vowel)) => Some('i'),
                c if is_vowel(c) => Some(c),
                _ => None,
            }
        })
        .collect();
    let mut count = 0;
    let mut previous: Option<char> = None;
    for v in &vowels {
        match (previous, v) {
            (_, None) => {}
            (None, Some(_)) => count += 1,
            (Some(a), Some(b)) => {
                let hiatus = (is_open(a) && is_open(*b))
                    || is_accented_close(a)
                    || is_accented_close(*b)
                    || (a == *b);
                if hiatus {
                    count += 1;
                }
            }
        }
        previous = *v;
    }
    count.max(1)
}

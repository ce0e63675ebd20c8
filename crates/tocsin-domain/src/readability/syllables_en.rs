//! English syllables by the usual heuristic: vowel groups (y a vowel except first),
//! less a silent final e, -es or -ed, plus the vowel pairs that are two syllables (ua,
//! uo, iu, io outside -tion/-sion, iet, -ious), and a few exceptions. Dictionary-exact it
//! is not; readability formulas were calibrated on hand counts with the same slips.

const EXCEPTIONS: [(&str, usize); 22] = [
    ("area", 3),
    ("areas", 3),
    ("idea", 3),
    ("ideas", 3),
    ("create", 2),
    ("created", 3),
    ("people", 2),
    ("video", 3),
    ("videos", 3),
    ("business", 2),
    ("businesses", 3),
    ("every", 2),
    ("everyone", 3),
    ("evening", 2),
    ("being", 2),
    ("doing", 2),
    ("going", 2),
    ("seeing", 2),
    ("theater", 3),
    ("million", 2),
    ("millions", 2),
    ("react", 2),
];

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// The syllables of one English word (at least 1).
pub fn syllables(word: &str) -> usize {
    // Most words are short ASCII letters: lower-cased on the stack, no allocation.
    let mut buffer = [0u8; 24];
    if let Some(lower) = buffer
        .get_mut(..word.len())
        .filter(|_| word.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        return std::str::from_utf8(lower).map_or(1, count);
    }
    let lower: String = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .map(fold_accent)
        .collect();
    count(&lower)
}

/// The syllables of a word already in lower case, letters only.
fn count(lower: &str) -> usize {
    let w = lower.as_bytes();
    if w.is_empty() {
        return 1;
    }
    if let Some((_, n)) = EXCEPTIONS.iter().find(|(e, _)| *e == lower) {
        return *n;
    }
    if w.len() <= 3 {
        return 1;
    }
    // Vowel groups; y is a consonant at the start of a word or a group ("yes", "beyond").
    let vowel_at = |i: usize| -> bool {
        let c = w.get(i).copied().unwrap_or(b'-');
        if c == b'y' {
            i > 0 && w.get(i - 1).is_some_and(|p| !is_vowel(*p))
        } else {
            is_vowel(c)
        }
    };
    let mut count = 0usize;
    let mut in_group = false;
    for i in 0..w.len() {
        let v = vowel_at(i);
        if v && !in_group {
            count += 1;
        }
        in_group = v;
    }
    let n = w.len();
    let at = |i: usize| w.get(i).copied().unwrap_or(b'-');
    // A final e that is its own vowel group is silent, except in consonant + le.
    let lone_e_before = |end: usize| end >= 2 && at(end - 1) == b'e' && !vowel_at(end - 2);
    let consonant_le = at(n - 2) == b'l' && !vowel_at(n - 3);
    if at(n - 1) == b'e' && lone_e_before(n) && !consonant_le {
        count = count.saturating_sub(1);
    } else if lower.ends_with("es") && lone_e_before(n - 1) {
        // makes, homes: silent; boxes, changes, places, cases: heard.
        let heard = matches!(at(n - 3), b's' | b'x' | b'z' | b'c' | b'g')
            || (at(n - 3) == b'h' && matches!(at(n.wrapping_sub(4)), b'c' | b's'))
            || (at(n - 3) == b'l' && n > 4 && !vowel_at(n - 4));
        if !heard {
            count = count.saturating_sub(1);
        }
    } else if lower.ends_with("ed") && lone_e_before(n - 1) && !matches!(at(n - 3), b't' | b'd') {
        // boiled, washed: silent; needed, tested: heard.
        let heard = at(n - 3) == b'l' && n > 4 && !vowel_at(n - 4);
        if !heard {
            count = count.saturating_sub(1);
        }
    }
    // Vowel pairs read as two syllables.
    for i in 1..n {
        let pair = (at(i - 1), at(i));
        let before = if i >= 2 { at(i - 2) } else { b'-' };
        let split = match pair {
            (b'u', b'a') | (b'u', b'o') => !matches!(before, b'q' | b'g'),
            (b'i', b'u') => true,
            (b'i', b'o') => {
                let soft = matches!(before, b't' | b's' | b'c' | b'g' | b'x');
                let ious = at(i + 1) == b'u' && at(i + 2) == b's';
                !soft && !ious
            }
            (b'i', b'e') => at(i + 1) == b't',
            _ => false,
        };
        if split {
            count += 1;
        }
    }
    if lower.ends_with("ious") && !matches!(at(n.wrapping_sub(5)), b't' | b'c' | b'x' | b'g') {
        count += 1;
    }
    count.max(1)
}

/// Accented vowels in borrowed words ("café", "naïve") count as their plain vowel.
fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        other => other,
    }
}

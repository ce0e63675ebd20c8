//! Finding URLs the way the platforms auto-link them: a simplified twitter-text extractor.
//!
//! `http://`/`https://` URLs and bare domains with a known TLD (`cdc.gov`, `bit.ly/x`).
//! Hosts are checked label by label; a path never ends in punctuation and keeps only
//! balanced parentheses, so `(see cdc.gov/flu).` links `cdc.gov/flu`.

use super::tlds;
use std::ops::Range;

/// Most labels a host may have before we stop treating it as one.
const MAX_LABELS: usize = 16;
/// Longest DNS label, in characters.
const MAX_LABEL_CHARS: usize = 63;
/// Deepest nesting of parentheses kept inside a path (`/Primer_(film)`), as twitter-text.
const MAX_PAREN_DEPTH: u8 = 2;

/// Byte ranges of URLs in the text (http/https URLs and bare domains with a known TLD like
/// example.gov/cdc.gov/bit.ly), as the platforms auto-link them.
///
/// Follows twitter-text's extractor: a bare `name.cc` on a country-code TLD (other than
/// `.co` and `.tv`) is only a link with a path (`bit.ly/x`, not `bit.ly`); a URL is not
/// found inside a word, an e-mail address or a hashtag; trailing punctuation is left out.
pub fn find_urls(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for_each_url(text, |r| out.push(r));
    out
}

/// Calls `f` with the byte range of every URL in `text`, in order.
///
/// Every host we recognise (a domain with a TLD, or an IPv4 address) has a dot, so the
/// scan jumps from dot to dot and only parses around them: the host holding a dot starts
/// where the run of host characters before it starts (after `http(s)://` if present).
pub(crate) fn for_each_url(text: &str, mut f: impl FnMut(Range<usize>)) {
    let mut consumed = 0; // no URL may start before the end of the previous one
    let mut from = 0;
    let bytes = text.as_bytes();
    while let Some(dot) = text.get(from..).and_then(|s| s.find('.')).map(|i| from + i) {
        // A dot inside a host has a host character on both sides ("EDT. Boil" has not).
        let host_byte = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80);
        let inside_host = host_byte(bytes.get(dot + 1))
            && dot.checked_sub(1).is_some_and(|i| {
                host_byte(bytes.get(i)) || bytes.get(i).is_some_and(|&b| b == b'-' || b == b'_')
            });
        if !inside_host {
            from = dot + 1;
            continue;
        }
        if let Some(url) = url_around_dot(text, dot, consumed) {
            consumed = url.end;
            from = url.end.max(dot + 1);
            f(url);
        } else {
            // No URL can start inside this run of host characters: each position in it
            // follows a host character or a dot.
            from = skip_host_run(text, dot + 1);
        }
    }
}

/// Furthest a host may reach back from one of its dots (16 labels of 63 characters).
const MAX_HOST_BYTES: usize = 4096;

/// The URL whose host holds the dot at `dot`, if any, starting at or after `floor`.
fn url_around_dot(text: &str, dot: usize, floor: usize) -> Option<Range<usize>> {
    let scheme_run = walk_back(text, dot, floor, |c| c == '.' || is_label_char(c, true));
    if let Some(start) = scheme_start_before(text, scheme_run, floor) {
        if let Some(end) = url_starting_at(text, start) {
            return Some(start..end);
        }
    }
    let bare_run = walk_back(text, dot, floor, |c| c == '.' || is_label_char(c, false));
    if bare_run < dot {
        if let Some(end) = url_starting_at(text, bare_run) {
            return Some(bare_run..end);
        }
    }
    None
}

/// The start of the run of characters matching `pred` that ends at `end`, not before
/// `floor` and at most [`MAX_HOST_BYTES`] back.
fn walk_back(text: &str, end: usize, floor: usize, pred: impl Fn(char) -> bool) -> usize {
    let lowest = floor.max(end.saturating_sub(MAX_HOST_BYTES));
    let mut start = end;
    for (i, c) in text.get(..end).unwrap_or("").char_indices().rev() {
        if i < lowest || !pred(c) {
            break;
        }
        start = i;
    }
    start
}

/// Where `http://` or `https://` (and any `userinfo@`) before the host at `host_start`
/// begins, if it does at or after `floor`.
fn scheme_start_before(text: &str, host_start: usize, floor: usize) -> Option<usize> {
    let mut head = text.get(..host_start)?;
    if let Some(before_at) = head.strip_suffix('@') {
        head = before_at.trim_end_matches(is_userinfo_char);
    }
    let slashes = head.strip_suffix("://")?;
    let scheme = if slashes.len() >= 5
        && slashes
            .get(slashes.len() - 5..)?
            .eq_ignore_ascii_case("https")
    {
        5
    } else if slashes.len() >= 4
        && slashes
            .get(slashes.len() - 4..)?
            .eq_ignore_ascii_case("http")
    {
        4
    } else {
        return None;
    };
    let start = slashes.len() - scheme;
    (start >= floor).then_some(start)
}

/// The end of the URL that starts at byte `start`, if one does.
fn url_starting_at(text: &str, start: usize) -> Option<usize> {
    let c = text.get(start..)?.chars().next()?;
    let prev = text.get(..start)?.chars().next_back();
    url_at(text, start, c, prev).filter(|&end| end > start)
}

/// The end of the run of bare-host characters and dots starting at `pos`.
fn skip_host_run(text: &str, pos: usize) -> usize {
    let rest = text.get(pos..).unwrap_or("");
    pos + rest
        .char_indices()
        .find(|&(_, c)| c != '.' && !is_label_char(c, false))
        .map_or(rest.len(), |(i, _)| i)
}

fn is_userinfo_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | '!'
                | '$'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | ':'
                | '%'
        )
}

/// The straightforward scan, trying every position: the reference the dot-anchored scan is
/// checked against.
#[cfg(test)]
pub(crate) fn for_each_url_reference(text: &str, mut f: impl FnMut(Range<usize>)) {
    let mut prev: Option<char> = None;
    let mut pos = 0;
    while let Some(rest) = text.get(pos..) {
        let Some(c) = rest.chars().next() else {
            break;
        };
        match url_at(text, pos, c, prev) {
            Some(end) if end > pos => {
                f(pos..end);
                prev = text.get(..end).and_then(|s| s.chars().next_back());
                pos = end;
            }
            _ => {
                prev = Some(c);
                pos += c.len_utf8();
            }
        }
    }
}

/// Whether the URL at `range` starts with `http://` or `https://`.
pub(crate) fn has_scheme(text: &str, range: &Range<usize>) -> bool {
    text.get(range.start..).and_then(scheme_len).is_some()
}

/// How many different URLs `urls` holds (the same URL twice counts once, as Threads does).
pub(crate) fn distinct_count(text: &str, urls: &[Range<usize>]) -> usize {
    urls.iter()
        .enumerate()
        .filter(|(i, r)| {
            let this = text.get((*r).clone());
            !urls.iter().take(*i).any(|q| text.get(q.clone()) == this)
        })
        .count()
}

/// The end of the URL starting at byte `start` (whose char is `c`, preceded by `prev`).
fn url_at(text: &str, start: usize, c: char, prev: Option<char>) -> Option<usize> {
    let rest = text.get(start..)?;
    if c == 'h' || c == 'H' {
        if let Some(scheme) = scheme_len(rest) {
            if !preceding_allows_scheme(prev) {
                return None;
            }
            let host_start = skip_userinfo(text, start + scheme);
            let host = parse_host(text, host_start, true)?;
            return Some(extend_past_host(text, host.end));
        }
    }
    if !(c.is_ascii_alphanumeric() || is_latin_accent(c)) || !preceding_allows_bare(prev) {
        return None;
    }
    let host = parse_host(text, start, false)?;
    let has_path = text.get(host.end..).is_some_and(|r| r.starts_with('/'));
    if host.short_cctld && !has_path {
        return None;
    }
    Some(extend_past_host(text, host.end))
}

/// Length of a leading `http://` or `https://` (any case).
fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.get(..4)?.eq_ignore_ascii_case(b"http") {
        return None;
    }
    let mut i = 4;
    if b.get(i).is_some_and(|c| c.eq_ignore_ascii_case(&b's')) {
        i += 1;
    }
    (b.get(i..i + 3)? == b"://").then_some(i + 3)
}

fn preceding_allows_scheme(prev: Option<char>) -> bool {
    !prev.is_some_and(|p| p.is_ascii_alphanumeric() || matches!(p, '@' | '＠' | '$' | '#' | '＃'))
}

fn preceding_allows_bare(prev: Option<char>) -> bool {
    !prev.is_some_and(|p| {
        p.is_alphanumeric()
            || is_latin_accent(p)
            || matches!(p, '@' | '＠' | '$' | '#' | '＃' | '-' | '_' | '.' | '/')
    })
}

/// Skips `user:password@` after a scheme, if present.
fn skip_userinfo(text: &str, start: usize) -> usize {
    let Some(rest) = text.get(start..) else {
        return start;
    };
    let userinfo = rest
        .bytes()
        .position(|b| !is_userinfo_char(char::from(b)))
        .unwrap_or(rest.len());
    if userinfo > 0 && rest.get(userinfo..).is_some_and(|r| r.starts_with('@')) {
        start + userinfo + 1
    } else {
        start
    }
}

/// Where a host ends, and whether it is a bare `name.cc` needing a path.
struct Host {
    end: usize,
    short_cctld: bool,
}

fn is_label_char(c: char, scheme: bool) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    } else if scheme {
        c.is_alphanumeric() || (!c.is_whitespace() && !is_unicode_punctuation(c))
    } else {
        is_latin_accent(c)
    }
}

/// The end of the run of label characters starting at `pos` (ASCII bytes checked
/// directly, other characters decoded).
fn label_end(text: &str, pos: usize, scheme: bool) -> usize {
    let bytes = text.as_bytes();
    let mut i = pos;
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                break;
            }
            i += 1;
        } else {
            match text.get(i..).and_then(|s| s.chars().next()) {
                Some(c) if is_label_char(c, scheme) => i += c.len_utf8(),
                _ => break,
            }
        }
    }
    i
}

/// Parses the host starting at `start`: a domain ending in a known TLD, or (after a
/// scheme) an IPv4 address.
fn parse_host(text: &str, start: usize, scheme: bool) -> Option<Host> {
    let bytes = text.as_bytes();
    let mut bounds = [(0usize, 0usize); MAX_LABELS];
    let mut n = 0;
    let mut pos = start;
    loop {
        let end = label_end(text, pos, scheme);
        if end == pos {
            break;
        }
        *bounds.get_mut(n)? = (pos, end);
        n += 1;
        // A dot continues the host only if a label follows (checked by the next round).
        if bytes.get(end) != Some(&b'.') {
            break;
        }
        pos = end + 1;
    }
    let labels = bounds.get(..n)?;
    if labels.len() < 2 {
        return None;
    }
    let label = |&(s, e): &(usize, usize)| text.get(s..e).unwrap_or("");
    if scheme && labels.len() == 4 && labels.iter().all(|l| is_octet(label(l))) {
        return Some(Host {
            end: labels.last()?.1,
            short_cctld: false,
        });
    }

    for k in (2..=labels.len()).rev() {
        let tld_label = labels.get(k - 1)?;
        let tld_text = label(tld_label);
        let tld_len = tld_text
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
            .count();
        let tld = tld_text.get(..tld_len)?;
        let next = tld_text.get(tld_len..)?.chars().next();
        if next.is_some_and(|c| c.is_ascii())
            || tld.bytes().all(|b| b.is_ascii_digit())
            || !tlds::is_tld(tld)
        {
            continue;
        }
        let names_valid = labels.get(..k - 1)?.iter().all(|l| {
            let name = label(l);
            name.chars().count() <= MAX_LABEL_CHARS
                && !name.starts_with('-')
                && !name.ends_with('-')
        });
        if !names_valid || label(labels.get(k - 2)?).contains('_') {
            return None;
        }
        let end = tld_label.0 + tld_len;
        if bytes.get(end) == Some(&b'@') {
            return None;
        }
        return Some(Host {
            end,
            short_cctld: !scheme && k == 2 && tlds::is_short_domain_cctld(tld),
        });
    }
    None
}

fn is_octet(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 3
        && label.bytes().all(|b| b.is_ascii_digit())
        && label.parse::<u16>().is_ok_and(|v| v <= 255)
}

/// Extends a URL past its host over a port and a path or query, leaving out trailing
/// punctuation and unbalanced parentheses.
fn extend_past_host(text: &str, host_end: usize) -> usize {
    let mut end = host_end;
    let rest = text.get(end..).unwrap_or("");
    if let Some(port) = rest.strip_prefix(':') {
        let digits = port.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            end += 1 + digits;
        }
    }
    let rest = text.get(end..).unwrap_or("");
    if !(rest.starts_with('/') || rest.starts_with('?')) {
        return end;
    }
    let bytes = text.as_bytes();
    let mut last_good = end;
    let mut depth = 0u8;
    let mut pos = end;
    while let Some(&b) = bytes.get(pos) {
        let (len, class) = if b < 0x80 {
            (1, ascii_url_class(b))
        } else {
            match text.get(pos..).and_then(|s| s.chars().next()) {
                Some(c) if is_latin_accent(c) || is_cyrillic(c) => (c.len_utf8(), UrlClass::End),
                Some(c @ '\u{2013}') => (c.len_utf8(), UrlClass::Inner),
                _ => (1, UrlClass::Stop),
            }
        };
        match class {
            UrlClass::Stop => break,
            UrlClass::Open if depth >= MAX_PAREN_DEPTH => break,
            UrlClass::Open => depth += 1,
            UrlClass::Close if depth == 0 => break,
            UrlClass::Close => depth -= 1,
            UrlClass::End | UrlClass::Inner => {}
        }
        pos += len;
        if depth == 0 && matches!(class, UrlClass::End | UrlClass::Close) {
            last_good = pos;
        }
    }
    last_good
}

/// What a character does inside a URL path or query.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlClass {
    /// May end the URL: letters, digits, `= _ # / + - &`, Latin accents, Cyrillic.
    End,
    /// May appear inside but not at the end: `! * ' ; : , . $ % [ ] ~ | @ ?` and `–`.
    Inner,
    /// `(`, kept only when balanced.
    Open,
    /// `)`.
    Close,
    /// Ends the URL before it.
    Stop,
}

fn ascii_url_class(b: u8) -> UrlClass {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => UrlClass::End,
        b'=' | b'_' | b'#' | b'/' | b'+' | b'-' | b'&' => UrlClass::End,
        b'!' | b'*' | b'\'' | b';' | b':' | b',' | b'.' | b'$' | b'%' | b'[' | b']' | b'~'
        | b'|' | b'@' | b'?' => UrlClass::Inner,
        b'(' => UrlClass::Open,
        b')' => UrlClass::Close,
        _ => UrlClass::Stop,
    }
}

fn is_latin_accent(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00C0..=0x00D6
            | 0x00D8..=0x00F6
            | 0x00F8..=0x024F
            | 0x0253..=0x0254
            | 0x0256..=0x0257
            | 0x0259
            | 0x025B
            | 0x0263
            | 0x0268
            | 0x026F
            | 0x0272
            | 0x0289
            | 0x028B
            | 0x02BB
            | 0x0300..=0x036F
            | 0x1E00..=0x1EFF
    )
}

fn is_cyrillic(c: char) -> bool {
    matches!(u32::from(c), 0x0400..=0x04FF)
}

/// Non-ASCII punctuation and spacing that ends a host (general and CJK punctuation,
/// full-width forms, Latin-1 punctuation).
fn is_unicode_punctuation(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00A0..=0x00BF
            | 0x00D7
            | 0x00F7
            | 0x2000..=0x206F
            | 0x2E00..=0x2E7F
            | 0x3000..=0x303F
            | 0xFE00..=0xFE0F
            | 0xFE10..=0xFE1F
            | 0xFE30..=0xFE6F
            | 0xFF00..=0xFF0F
            | 0xFF1A..=0xFF20
            | 0xFF3B..=0xFF40
            | 0xFF5B..=0xFF65
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<&str> {
        find_urls(text)
            .into_iter()
            .map(|r| text.get(r).unwrap())
            .collect()
    }

    #[test]
    fn http_and_https_urls_are_found_with_their_paths_and_queries() {
        assert_eq!(
            urls("Details: https://www.cdc.gov/measles/exposure.html?x=1&y=2 now"),
            ["https://www.cdc.gov/measles/exposure.html?x=1&y=2"]
        );
        assert_eq!(urls("see http://test.co"), ["http://test.co"]);
        assert_eq!(
            urls("HTTPS://www.ExaMPLE.COM/index.html"),
            ["HTTPS://www.ExaMPLE.COM/index.html"]
        );
    }

    #[test]
    fn bare_domains_with_a_known_tld_are_found() {
        assert_eq!(
            urls("Visit cdc.gov or health.ny.gov/heat for help."),
            ["cdc.gov", "health.ny.gov/heat"]
        );
        assert_eq!(urls("example.com"), ["example.com"]);
        assert_eq!(urls("www.example.com"), ["www.example.com"]);
        assert_eq!(urls("foo.co.jp"), ["foo.co.jp"]);
    }

    #[test]
    fn a_bare_country_code_domain_needs_a_path_unless_it_is_co_or_tv() {
        assert_eq!(urls("bit.ly"), Vec::<&str>::new());
        assert_eq!(urls("go to bit.ly/boil-water"), ["bit.ly/boil-water"]);
        assert_eq!(urls("t.co"), ["t.co"]);
        assert_eq!(urls("https://bit.ly"), ["https://bit.ly"]);
    }

    #[test]
    fn trailing_punctuation_and_unbalanced_parentheses_are_left_out() {
        assert_eq!(
            urls("(more at cdc.gov/flu)."),
            ["cdc.gov/flu"],
            "closing paren not part of the URL"
        );
        assert_eq!(urls("Is it https://cdc.gov?"), ["https://cdc.gov"]);
        assert_eq!(urls("See cdc.gov/flu, then rest."), ["cdc.gov/flu"]);
        assert_eq!(
            urls("https://en.wikipedia.org/wiki/Primer_(film)."),
            ["https://en.wikipedia.org/wiki/Primer_(film)"]
        );
        assert_eq!(urls("Visit cdc.gov."), ["cdc.gov"]);
    }

    #[test]
    fn words_with_dots_are_not_urls() {
        for text in [
            "e.g. the U.S. at 5 p.m.",
            "St.Vincent's",
            "version 1.2.3",
            "pi is 3.14",
            "end.Next sentence",
            "no dots here",
            "",
        ] {
            assert_eq!(urls(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn email_addresses_hashtags_and_mid_word_domains_are_not_urls() {
        assert_eq!(urls("write to info@cdc.gov"), Vec::<&str>::new());
        assert_eq!(urls("#cdc.gov"), Vec::<&str>::new());
        assert_eq!(urls("foo_cdc.gov"), Vec::<&str>::new());
        assert_eq!(urls("ftp://www.example.com/x"), Vec::<&str>::new());
    }

    #[test]
    fn a_sentence_ending_right_after_a_domain_does_not_swallow_the_next_word() {
        assert_eq!(urls("Visit cdc.gov.Then wait"), ["cdc.gov"]);
    }

    #[test]
    fn hosts_follow_dns_rules() {
        assert_eq!(
            urls("http://www.-domain4352.com/ http://www.domain4352-.com/"),
            Vec::<&str>::new()
        );
        let long = format!("{}s.com", "randomurl".repeat(7));
        assert_eq!(urls(&long), Vec::<&str>::new(), "a 64-character label");
        assert_eq!(
            urls("http://test_underscore.twitter.com"),
            ["http://test_underscore.twitter.com"]
        );
        assert_eq!(
            urls("http://domain-dash_2314352345_dfasd.foo-cow_4352.com"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn ports_userinfo_ip_addresses_and_unicode_hosts_are_handled() {
        assert_eq!(
            urls("http://user:PASSW0RD@example.com:8080/login.php"),
            ["http://user:PASSW0RD@example.com:8080/login.php"]
        );
        assert_eq!(
            urls("http://192.168.0.1/index.html?src=asdf"),
            ["http://192.168.0.1/index.html?src=asdf"]
        );
        assert_eq!(urls("http://256.1.2.3/"), Vec::<&str>::new());
        assert_eq!(urls("http://☃.net/"), ["http://☃.net/"]);
        assert_eq!(
            urls("http://example.com/Русские_слова"),
            ["http://example.com/Русские_слова"]
        );
    }

    #[test]
    fn cjk_text_right_after_a_url_is_not_part_of_it() {
        assert_eq!(urls("https://example.com中文"), ["https://example.com"]);
        assert_eq!(
            urls("https://example.com/path。次"),
            ["https://example.com/path"]
        );
    }

    #[test]
    fn ranges_are_byte_offsets_into_the_original_text() {
        let text = "Café ☕ info: cdc.gov/x";
        let found = find_urls(text);
        let start = text.find("cdc").unwrap();
        assert_eq!(found, vec![start..text.len()]);
    }

    #[test]
    fn the_same_url_twice_is_one_distinct_link() {
        let text = "cdc.gov and cdc.gov and https://cdc.gov";
        let found = find_urls(text);
        assert_eq!(found.len(), 3);
        assert_eq!(distinct_count(text, &found), 2);
        assert!(has_scheme(text, found.get(2).unwrap()));
        assert!(!has_scheme(text, found.first().unwrap()));
    }
}

//! The pattern detectors: identifiers with a recognisable shape (SSNs, phone and fax
//! numbers, emails, URLs, IPs, ZIP+4, street addresses) and identifiers anchored on a
//! keyword (MRN, plan, account and SSN numbers, dates tied to a person, ages over 89).
//! Each regex is compiled once; shape checks a regex cannot express run only on matches.

use std::net::Ipv6Addr;

use regex::Regex;

use super::config::phone_digits;
use super::family::PhiFamily;
use super::text::{
    char_after, char_before, contains_ci, digit_count, first_number, last_number, next_word,
    previous_word, starts_with_ci, window_after, window_before, TextProfile,
};

/// A hit before filtering and attribution; `pattern` indexes the custom patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHit {
    pub family: PhiFamily,
    pub start: usize,
    pub end: usize,
    pub pattern: Option<usize>,
}

impl RawHit {
    pub(crate) fn new(family: PhiFamily, start: usize, end: usize) -> RawHit {
        RawHit {
            family,
            start,
            end,
            pattern: None,
        }
    }
}

/// An ASCII word boundary: unlike Unicode `\b` it keeps the lazy DFA usable on text
/// with emoji and accented letters, which alerts and posts routinely contain.
macro_rules! b {
    () => {
        r"(?-u:\b)"
    };
}

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// Street-type words that end the street part of an address.
const STREET_SUFFIX: &str = r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Court|Ct|Way|Place|Pl|Parkway|Pkwy|Highway|Hwy|Terrace|Ter|Circle|Cir|Trail|Trl|Square|Alley|Plaza|Plz|Expressway|Expy|Freeway|Fwy|Crescent|Cres|Turnpike|Tpke)";

/// Toll-free area codes: never a patient's own number, and the hotlines public-health
/// posts cite all the time (CDC-INFO, Poison Control).
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// Words that, right before a number, make it a route, a bus line, a ward or a date
/// rather than a house number ("Highway 41 Lake Shore Drive", "July 4 Lake Shore Drive").
const NOT_HOUSE_NUMBER_BEFORE: &[&str] = &[
    "route", "rte", "highway", "hwy", "interstate", "i", "us", "exit", "bus", "ward", "zone",
    "phase", "step", "level", "gate", "lot", "line", "tier", "area", "region", "district",
    "section", "day", "week", "chapter", "page", "number", "no", "ages", "age", "aged", "jan",
    "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul",
    "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november",
    "dec", "december",
];

/// Capitalised words before "Drive", "Way" or "Court" that make an event or an
/// institution rather than a street ("Blood Drive", "United Way", "Circuit Court").
const NOT_STREET_NAME: &[&str] = &[
    "blood", "food", "vaccine", "vaccination", "donation", "toy", "book", "coat", "clothing",
    "fund", "test", "testing", "immunization", "registration", "diaper", "supply", "canned",
    "united", "supreme", "circuit", "district", "county", "federal", "appellate", "drug",
    "juvenile", "traffic", "housing", "family", "am", "pm",
];

/// Nouns after "100-year-old" that make it a thing's age, not a person's.
const INANIMATE: &[&str] = &[
    "building", "buildings", "hospital", "home", "house", "tree", "trees", "church", "bridge",
    "tradition", "company", "institution", "law", "facility", "organization", "organisation",
    "anniversary", "pipe", "pipes", "water", "main", "mains", "infrastructure", "record",
    "event", "structure", "school", "clinic", "system", "dam", "sewer", "sewers", "theater",
    "library", "park", "program", "programme", "landmark", "plant", "pump", "station", "tower",
    "hall", "bank", "business", "newspaper", "site", "well", "wells", "pool", "reservoir",
];

/// Units after "aged 90" that make it an infant's age in days, weeks or months.
const AGE_UNITS: &[&str] = &[
    "day", "days", "week", "weeks", "month", "months", "hour", "hours", "minute", "minutes",
    "mo", "mos", "wk", "wks",
];

/// The compiled built-in detectors plus the organisation's allow lists.
#[derive(Debug)]
pub(crate) struct Detectors {
    ssn_shape: Regex,
    ssn_keyword: Regex,
    mrn_keyword: Regex,
    plan_keyword: Regex,
    account_keyword: Regex,
    phone_nanp: Regex,
    phone_keyword: Regex,
    phone_e164: Regex,
    email: Regex,
    url_scheme: Regex,
    url_bare: Regex,
    ipv4: Regex,
    ipv6: Regex,
    zip4: Regex,
    street: Regex,
    po_box: Regex,
    date_label: Regex,
    date_born: Regex,
    date_event: Regex,
    age_year_old: Regex,
    age_label: Regex,
    age_words: Regex,
    age_after_name: Regex,
    allowed_domains: Vec<String>,
    allowed_phones: Vec<String>,
}

impl Detectors {
    /// Compiles the built-in patterns. They are constants, so failure is a programming
    /// error caught by every test; it is still reported rather than panicking.
    pub(crate) fn new(
        allowed_domains: Vec<String>,
        allowed_phones: Vec<String>,
    ) -> Result<Detectors, regex::Error> {
        let date_full = format!(
            r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:[0-9]{{1,2}}[/.\-][0-9]{{1,2}}[/.\-](?:[0-9]{{4}}|[0-9]{{2}})|[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}|{m}\.?\s+[0-9]{{1,2}}(?:st|nd|rd|th)?(?:,?\s+[0-9]{{4}})?|{m}\.?,?\s+[0-9]{{4}}|[0-9]{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{m}\.?(?:,?\s+[0-9]{{4}})?){b}",
            m = MONTH,
            b = b!()
        );
        let date_or_year = format!(r"(?:{date_full}|(?:18|19|20)[0-9]{{2}}{b})", b = b!());
        let re = |s: &str| Regex::new(s);
        Ok(Detectors {
            ssn_shape: re(concat!(
                b!(),
                r"[0-9]{3}(?:-[0-9]{2}-|\x20[0-9]{2}\x20)[0-9]{4}",
                b!()
            ))?,
            ssn_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:ssn|ss\#|soc(?:ial)?\.?\s+sec(?:urity)?\.?(?:\s*(?:number|num|no\.?|\#|card))?)"
            ))?,
            mrn_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:mrn|m\.r\.n\.?|mr\s?\#|med(?:ical)?\.?\s+rec(?:ord)?s?\.?(?:\s*(?:number|num|no\.?|\#|id))?|chart\s*(?:number|num|no\.?|\#|id)|patient\s*(?:id|identifier|number|no\.?|\#)|hospital\s*(?:id|number|no\.?|\#)|record\s*(?:number|no\.?|\#))"
            ))?,
            plan_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:(?:member|subscriber|beneficiary|enrollee|policy|group|plan|insurance|health\s+plan|medicare|medicaid|bcbs)\s*(?:id|i\.d\.|identifier|\#|number|num|no\.?|card)|policy\s+holder\s+(?:id|number)|mbi|hicn|medicare|medicaid)"
            ))?,
            account_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:(?:billing\s+)?account\s*(?:\#|number|num|no\.?|id)|acct\.?\s*(?:\#|number|num|no\.?)?|a/c\s*(?:\#|no\.?)?)"
            ))?,
            phone_nanp: re(
                r"(?:\+?1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}",
            )?,
            phone_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:call|phone|tel|telephone|cell|mobile|text|fax|reach|dial|contact)",
                b!(),
                r"[^0-9\n]{0,16}?(?:(?:\+?1)?[2-9][0-9]{9}|[2-9][0-9]{2}-[0-9]{4})",
                b!()
            ))?,
            phone_e164: re(r"\+[1-9](?:[ .\-]?[0-9]){7,14}")?,
            email: re(concat!(
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
                b!()
            ))?,
            url_scheme: re(concat!(
                r"(?i)",
                b!(),
                r#"(?:https?://|ftp://|www\.)[^\s<>"'`]+"#
            ))?,
            url_bare: re(concat!(
                r"(?i)",
                b!(),
                r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|org|net|gov|edu|mil|int|us|io|co|info|biz|health|care|app|ly|tv|uk|ca|au|nz|ie|de|fr|es|mx|site|online|news|link|page|clinic|hospital|md|ai)",
                b!(),
                r#"(?:/[^\s<>"'`]*)?"#
            ))?,
            ipv4: re(concat!(
                b!(),
                r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}",
                b!()
            ))?,
            ipv6: re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-f]{0,4})")?,
            zip4: re(concat!(b!(), r"[0-9]{5}-[0-9]{4}", b!()))?,
            street: re(&format!(
                concat!(
                    b!(),
                    r"[0-9]{{1,6}}[A-Za-z]?(?:-[0-9]{{1,5}})?[ ]+",
                    r"(?:(?:[A-Z][A-Za-z'\-]*|[0-9]{{1,3}}(?:st|nd|rd|th))\.?[ ]+){{1,4}}?",
                    r"{s}",
                    b!(),
                    r"\.?",
                    r"(?:[ ]+(?:N|S|E|W|NE|NW|SE|SW)",
                    b!(),
                    r"\.?)?",
                    r"(?:,?[ ]+(?:Apt|Apartment|Unit|Suite|Ste|Room|Rm|Floor|Fl|Bldg|Building|Lot|\#)\.?[ ]*\#?[A-Za-z0-9\-]+)?",
                    r"(?:,?[ ]+(?:[A-Z][A-Za-z.]*,?[ ]+){{0,4}}[0-9]{{5}}(?:-[0-9]{{4}})?",
                    b!(),
                    r")?"
                ),
                s = STREET_SUFFIX
            ))?,
            po_box: re(concat!(
                r"(?i)",
                b!(),
                r"(?:p\.?\s?o\.?\s*box|post\s+office\s+box)\s*\#?\s*[0-9]+",
                b!()
            ))?,
            date_label: re(&format!(
                r"(?i){b}(?:d\.?o\.?b|date\s+of\s+(?:birth|death|service|admission|discharge|visit|injury)|birth\s*date|birthday|admission\s+date|admit\s+date|discharge\s+date|death\s+date|service\s+date|(?-i:DOS)){b}\.?[^0-9.;!?\n]{{0,30}}?{date_or_year}",
                b = b!()
            ))?,
            date_born: re(&format!(
                r"(?i){b}born(?:[^0-9.;!?\n]{{0,40}}?{b}(?:on|in))?[\s,:]+{date_or_year}",
                b = b!()
            ))?,
            date_event: re(&format!(
                r"(?i){b}(?:admitted|readmitted|discharged|died|passed\s+away|deceased|expired){b}(?:[^0-9.;!?\n]{{0,40}}?{b}(?:on|in))?[\s,:]+{date_full}",
                b = b!()
            ))?,
            age_year_old: re(concat!(
                r"(?i)",
                b!(),
                r"[0-9]{2,3}(?:[- ]?(?:years?|yrs?|y)[- ]?(?:old|o)|\s*(?:y/o|y\.o|yo)|\s+years?\s+of\s+age)",
                b!()
            ))?,
            age_label: re(concat!(
                r"(?i)",
                b!(),
                r"(?:aged?|ages)\s*:?\s*[0-9]{2,3}",
                b!()
            ))?,
            age_words: re(concat!(
                r"(?i)",
                b!(),
                r"(?:(?:ninety|one\s+hundred|a\s+hundred)(?:[- ](?:and[- ])?(?:one|two|three|four|five|six|seven|eight|nine|ten))?[- ]years?[- ]old|(?:aged?|is|was|turned|turns|turning)\s+(?:ninety|one\s+hundred)(?:[- ](?:and[- ])?(?:one|two|three|four|five|six|seven|eight|nine|ten))?|(?:super)?centenarian|nonagenarian|in\s+(?:his|her|their)\s+(?:late\s+|early\s+|mid[- ])?(?:90s|nineties|100s))",
                b!()
            ))?,
            age_after_name: re(concat!(
                r"(?:\p{Lu}\p{Ll}+|(?i:victim|patient|man|woman|resident|decedent|driver|pedestrian|grandmother|grandfather|mother|father|veteran|widow|widower|neighbou?r))",
                r"(?:,\s+[0-9]{2,3},|\s+\([0-9]{2,3}\))"
            ))?,
            allowed_domains,
            allowed_phones,
        })
    }

    /// Appends every built-in hit in `text` to `out`, skipping detectors whose trigger
    /// characters `profile` says are absent.
    pub(crate) fn scan(&self, text: &str, profile: &TextProfile, out: &mut Vec<RawHit>) {
        if profile.digit {
            self.scan_ssn(text, out);
            self.scan_keyword_ids(text, out);
            self.scan_phones(text, profile, out);
            self.scan_addresses(text, out);
            self.scan_dates(text, out);
            self.scan_numeric_ages(text, out);
            self.scan_ipv4(text, out);
        }
        self.scan_word_ages(text, out);
        if profile.at {
            self.scan_emails(text, out);
        }
        if profile.dot_letter || profile.colons > 0 {
            self.scan_urls(text, profile, out);
        }
        if profile.double_colon || profile.colons >= 7 {
            self.scan_ipv6(text, out);
        }
    }

    fn scan_ssn(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.ssn_shape.find_iter(text) {
            if joined_to_number(text, m.start(), m.end()) {
                continue;
            }
            let s = m.as_str();
            let area = s.get(..3).unwrap_or("");
            let group = s.get(4..6).unwrap_or("");
            let serial = s.get(7..).unwrap_or("");
            if area == "000" || area == "666" || group == "00" || serial == "0000" {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Ssn, m.start(), m.end()));
        }
        for m in self.ssn_keyword.find_iter(text) {
            if let Some((s, e)) = identifier_after(text, m.end(), 32) {
                let token = text.get(s..e).unwrap_or("");
                let digits = digit_count(token);
                let only_digits_and_seps = token.bytes().all(|b| b.is_ascii_digit() || b == b'-');
                if digits == 9 && only_digits_and_seps {
                    out.push(RawHit::new(PhiFamily::Ssn, s, e));
                }
            }
        }
    }

    fn scan_keyword_ids(&self, text: &str, out: &mut Vec<RawHit>) {
        let groups = [
            (&self.mrn_keyword, PhiFamily::MedicalRecordNumber),
            (&self.plan_keyword, PhiFamily::HealthPlanNumber),
            (&self.account_keyword, PhiFamily::AccountNumber),
        ];
        for (regex, family) in groups {
            for m in regex.find_iter(text) {
                // A bare "Medicare" is a weak anchor ("Medicare ... 1-800-633-4227"); a label
                // such as "policy number" is not, even for a phone-shaped value.
                let keyword = m.as_str().to_ascii_lowercase();
                let bare = keyword == "medicare" || keyword == "medicaid";
                if let Some((s, e)) = identifier_after(text, m.end(), 36) {
                    let token = text.get(s..e).unwrap_or("");
                    if is_identifier(token, bare) {
                        out.push(RawHit::new(family, s, e));
                    }
                }
            }
        }
    }

    fn scan_phones(&self, text: &str, profile: &TextProfile, out: &mut Vec<RawHit>) {
        for m in self.phone_nanp.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if char_before(text, s).is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.')
                || char_after(text, e).is_some_and(|c| c.is_alphanumeric())
                || (char_after(text, e) == Some('-')
                    && text.get(e + 1..).is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            {
                continue;
            }
            self.push_phone(text, s, e, out);
        }
        for m in self.phone_keyword.find_iter(text) {
            let number_start = m
                .as_str()
                .rfind(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+'))
                .map_or(m.start(), |i| m.start() + i + 1);
            if char_after(text, m.end()) == Some('-') {
                continue;
            }
            self.push_phone(text, number_start, m.end(), out);
        }
        if profile.plus {
            for m in self.phone_e164.find_iter(text) {
                let (s, e) = (m.start(), m.end());
                if char_before(text, s).is_some_and(char::is_alphanumeric)
                    || char_after(text, e).is_some_and(|c| c.is_ascii_digit())
                {
                    continue;
                }
                self.push_phone(text, s, e, out);
            }
        }
    }

    fn push_phone(&self, text: &str, start: usize, end: usize, out: &mut Vec<RawHit>) {
        let digits = phone_digits(text.get(start..end).unwrap_or(""));
        if digits.len() == 10 && TOLL_FREE.iter().any(|code| digits.starts_with(code)) {
            return;
        }
        if self.allowed_phones.iter().any(|allowed| *allowed == digits) {
            return;
        }
        // Only the words since the previous number or sentence belong to this number:
        // "Call 312-555-0100 or fax 312-555-0199" makes the second one a fax, not the first.
        let before = window_before(text, start, 48);
        let cut = before
            .rfind(|c: char| c.is_ascii_digit() || matches!(c, '.' | '!' | '?' | ';' | '\n'))
            .map_or(0, |i| i + 1);
        let before = before.get(cut..).unwrap_or("");
        let fax = contains_ci(before, "fax")
            || contains_ci(before, "facsimile")
            || contains_ci(window_after(text, end, 10), "fax");
        let family = if fax { PhiFamily::Fax } else { PhiFamily::Phone };
        out.push(RawHit::new(family, start, end));
    }

    fn scan_emails(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.email.find_iter(text) {
            // "@health@mastodon.social" is a fediverse handle: a public account, not a mailbox.
            if char_before(text, m.start()) == Some('@') {
                continue;
            }
            let domain = m.as_str().rsplit('@').next().unwrap_or("");
            if self.domain_allowed(domain) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Email, m.start(), m.end()));
        }
    }

    fn scan_urls(&self, text: &str, profile: &TextProfile, out: &mut Vec<RawHit>) {
        let push = |start: usize, raw_end: usize, out: &mut Vec<RawHit>| {
            let raw = text.get(start..raw_end).unwrap_or("");
            let trimmed = raw.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"']);
            if trimmed.is_empty() {
                return;
            }
            if self.domain_allowed(url_host(trimmed)) {
                return;
            }
            out.push(RawHit::new(PhiFamily::Url, start, start + trimmed.len()));
        };
        for m in self.url_scheme.find_iter(text) {
            push(m.start(), m.end(), out);
        }
        if profile.dot_letter {
            for m in self.url_bare.find_iter(text) {
                let before = char_before(text, m.start());
                // Part of an email address, or the host of a URL already reported above.
                if matches!(before, Some('@') | Some('/') | Some('.'))
                    || char_after(text, m.end()) == Some('@')
                {
                    continue;
                }
                push(m.start(), m.end(), out);
            }
        }
    }

    fn domain_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.allowed_domains.iter().any(|d| {
            if host.len() == d.len() {
                return host.eq_ignore_ascii_case(d);
            }
            let Some(cut) = host.len().checked_sub(d.len() + 1) else {
                return false;
            };
            host.get(cut + 1..).is_some_and(|tail| tail.eq_ignore_ascii_case(d))
                && host.as_bytes().get(cut) == Some(&b'.')
        })
    }

    fn scan_ipv4(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.ipv4.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            // "1.2.3.4.5" is a version or a section number, not an address.
            if char_before(text, s) == Some('.')
                || (char_after(text, e) == Some('.')
                    && text.get(e + 1..).is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            {
                continue;
            }
            let valid = m.as_str().split('.').all(|octet| {
                octet.parse::<u16>().is_ok_and(|v| v <= 255) && !(octet.len() > 1 && octet.starts_with('0'))
            });
            if valid {
                out.push(RawHit::new(PhiFamily::IpAddress, s, e));
            }
        }
    }

    fn scan_ipv6(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.ipv6.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if char_before(text, s).is_some_and(|c| c.is_alphanumeric() || c == ':') {
                continue;
            }
            let candidate = m.as_str();
            let groups = candidate.split(':').filter(|g| !g.is_empty()).count();
            if groups >= 3 && candidate.parse::<Ipv6Addr>().is_ok() {
                out.push(RawHit::new(PhiFamily::IpAddress, s, e));
            }
        }
    }

    fn scan_addresses(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.zip4.find_iter(text) {
            if joined_to_number(text, m.start(), m.end()) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::ZipCode, m.start(), m.end()));
        }
        for m in self.street.find_iter(text) {
            if plausible_street_address(text, m.start(), m.end()) {
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start(), m.end()));
            }
        }
        for m in self.po_box.find_iter(text) {
            out.push(RawHit::new(PhiFamily::StreetAddress, m.start(), m.end()));
        }
    }

    fn scan_dates(&self, text: &str, out: &mut Vec<RawHit>) {
        for regex in [&self.date_label, &self.date_born, &self.date_event] {
            for m in regex.find_iter(text) {
                let start = date_start(m.as_str()).map_or(m.start(), |i| m.start() + i);
                // "born in 2019 or later", "born on or after": a cohort, not a person.
                let after = window_after(text, m.end(), 32).trim_start();
                let cohort = std::ptr::eq(regex, &self.date_born)
                    && (["through", "to ", "- ", "-2", "-1", "\u{2013}"]
                        .iter()
                        .any(|p| starts_with_ci(after, p))
                        || ["or ", "and "].iter().any(|p| {
                            starts_with_ci(after, p)
                                && ["later", "after", "earlier", "before", "older", "younger", "since"]
                                    .iter()
                                    .any(|w| starts_with_ci(after.get(p.len()..).unwrap_or("").trim_start(), w))
                        }));
                // "The hospital admitted 37 patients on July 4", "admitted its first patient on
                // March 1, 1925": an institution's event, not one person's admission.
                let object = next_word(text, m.start() + m.as_str().find(' ').unwrap_or(0));
                let institutional = std::ptr::eq(regex, &self.date_event)
                    && (counted_object(window_after(text, m.start(), 40)) || object.is_some_and(|w| {
                            ["its", "their", "our", "more", "no", "several", "many", "dozens", "hundreds"]
                                .iter()
                                .any(|d| d.eq_ignore_ascii_case(w))
                        }));
                if cohort || institutional {
                    continue;
                }
                out.push(RawHit::new(PhiFamily::Date, start, m.end()));
            }
        }
    }

    fn scan_numeric_ages(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.age_year_old.find_iter(text) {
            let Some(age) = first_number(m.as_str()) else { continue };
            let noun = next_word(text, m.end()).unwrap_or("");
            let thing = INANIMATE.iter().any(|w| w.eq_ignore_ascii_case(noun));
            if is_identifiable_age(age) && !thing {
                out.push(RawHit::new(PhiFamily::Age, m.start(), m.end()));
            }
        }
        for m in self.age_label.find_iter(text) {
            let Some(age) = last_number(m.as_str()) else { continue };
            if !is_identifiable_age(age) || is_age_group(text, m.end()) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Age, m.start(), m.end()));
        }
        for m in self.age_after_name.find_iter(text) {
            let Some(age) = last_number(m.as_str()) else { continue };
            if !is_identifiable_age(age) {
                continue;
            }
            let s = m.as_str();
            let num_start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
            let num_end = s.rfind(|c: char| c.is_ascii_digit()).map_or(s.len(), |i| i + 1);
            out.push(RawHit::new(PhiFamily::Age, m.start() + num_start, m.start() + num_end));
        }
    }

    fn scan_word_ages(&self, text: &str, out: &mut Vec<RawHit>) {
        for m in self.age_words.find_iter(text) {
            let noun = next_word(text, m.end()).unwrap_or("");
            // "is ninety percent effective", "turned one hundred degrees".
            let not_age = ["percent", "per", "degrees", "days", "minutes", "people", "cases"];
            if INANIMATE.iter().chain(&not_age).any(|w| w.eq_ignore_ascii_case(noun))
                || window_after(text, m.end(), 2).trim_start().starts_with('%')
            {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Age, m.start(), m.end()));
        }
    }
}

/// Whether a verb is followed by a count of people ("admitted 37 patients").
fn counted_object(after_verb_start: &str) -> bool {
    let mut words = after_verb_start.split_whitespace().skip(1);
    let count = words.next().unwrap_or("");
    let noun = words.next().unwrap_or("");
    !count.is_empty()
        && count.bytes().all(|b| b.is_ascii_digit() || b == b',')
        && noun.starts_with(|c: char| c.is_lowercase())
}

/// Ages Safe Harbor requires hiding: over 89, up to a plausible human age.
fn is_identifiable_age(age: u32) -> bool {
    (90..=125).contains(&age)
}

/// "aged 90 and older", "ages 90+", "aged 90 days": a group or an infant, not a person's age.
fn is_age_group(text: &str, end: usize) -> bool {
    let after = window_after(text, end, 24);
    let trimmed = after.trim_start();
    if trimmed.starts_with('+') || trimmed.starts_with('-') || trimmed.starts_with('–') {
        return true;
    }
    let group = [
        "and older", "and over", "and up", "and above", "or older", "or over", "or above",
        "plus", "to ", "through",
    ];
    if group.iter().any(|p| starts_with_ci(trimmed, p)) {
        return true;
    }
    let unit = next_word(text, end).unwrap_or("");
    AGE_UNITS.iter().any(|u| u.eq_ignore_ascii_case(unit))
}

/// Whether the match at `start..end` is glued to more digits ("1-123-45-6789-0").
fn joined_to_number(text: &str, start: usize, end: usize) -> bool {
    let digit_after_dash = |i: usize| {
        char_after(text, i) == Some('-')
            && text.get(i + 1..).is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()))
    };
    let digit_before_dash = char_before(text, start) == Some('-')
        && text
            .get(..start.saturating_sub(1))
            .is_some_and(|t| t.ends_with(|c: char| c.is_ascii_digit()));
    digit_before_dash || digit_after_dash(end)
}

/// Where the date itself starts inside a keyword-anchored match: after the label and
/// any words between ("DOB: 03/14/1957" -> "03/14/1957").
fn date_start(matched: &str) -> Option<usize> {
    // The date is the last run that starts with a digit, a weekday or a month after the label;
    // scanning from the keyword's end for the first digit, then backing up over a month name,
    // finds it without a second regex.
    let first_digit = matched.find(|c: char| c.is_ascii_digit())?;
    let head = matched.get(..first_digit)?;
    let trimmed = head.trim_end_matches([' ', ',', '.']);
    let word_start = trimmed
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    let word = trimmed.get(word_start..)?;
    let is_month = matches!(
        word.to_ascii_lowercase().as_str(),
        "jan" | "january" | "feb" | "february" | "mar" | "march" | "apr" | "april" | "may"
            | "jun" | "june" | "jul" | "july" | "aug" | "august" | "sep" | "sept" | "september"
            | "oct" | "october" | "nov" | "november" | "dec" | "december"
    );
    if !is_month {
        return Some(first_digit);
    }
    // Back up over a weekday before the month ("Tuesday, March 3").
    let before_month = trimmed.get(..word_start)?.trim_end_matches([' ', ',']);
    let day_start = before_month
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |i| i + 1);
    let day = before_month.get(day_start..)?;
    if day.len() > 3 && day.to_ascii_lowercase().ends_with("day") && day_start > 0 {
        Some(day_start)
    } else {
        Some(word_start)
    }
}

/// The identifier token following a keyword: the first token containing a digit within
/// `max_gap` bytes, not crossing a sentence end; letters glued to its digits belong to it.
fn identifier_after(text: &str, from: usize, max_gap: usize) -> Option<(usize, usize)> {
    let rest = text.get(from..)?;
    let mut digit_at = None;
    let mut prev = ' ';
    for (i, c) in rest.char_indices() {
        if i > max_gap {
            return None;
        }
        if c.is_ascii_digit() {
            digit_at = Some(from + i);
            break;
        }
        if matches!(c, '!' | '?' | ';' | '\n') {
            return None;
        }
        if c == ' ' && prev == '.' {
            let word = previous_word(text, from + i - 1).unwrap_or("");
            let abbreviation = ["mr", "mrs", "ms", "dr", "no", "st", "jr", "sr", "id", "acct", "rec", "med"]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(word));
            if !abbreviation {
                return None;
            }
        }
        prev = c;
    }
    let d = digit_at?;
    let is_token = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let start = text
        .get(from..d)?
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_token(*c))
        .last()
        .map_or(d, |(i, _)| from + i);
    let end = text
        .get(d..)?
        .char_indices()
        .find(|(_, c)| !is_token(*c))
        .map_or(text.len(), |(i, _)| d + i);
    let token = text.get(start..end)?;
    let lead = token.len() - token.trim_start_matches('-').len();
    let trail = token.len() - token.trim_end_matches('-').len();
    let (start, end) = (start + lead, end - trail);
    (start < end).then_some((start, end))
}

/// Whether a keyword-anchored token looks like an identifier rather than a count, a
/// year or a phone number: at least four digits, and not a bare year.
fn is_identifier(token: &str, reject_phone_shaped: bool) -> bool {
    let digits = digit_count(token);
    let letters = token.bytes().filter(u8::is_ascii_alphabetic).count();
    if digits < 4 {
        return false;
    }
    let bare_year = token.len() == 4
        && letters == 0
        && (token.starts_with("19") || token.starts_with("20"));
    let dashes: Vec<usize> = token.split('-').map(str::len).collect();
    let phone_shaped = letters == 0 && (dashes == [3, 3, 4] || dashes == [1, 3, 3, 4]);
    !bare_year && !(phone_shaped && reject_phone_shaped)
}

/// Shape checks on a street-address match that the regex cannot express.
fn plausible_street_address(text: &str, start: usize, end: usize) -> bool {
    let matched = text.get(start..end).unwrap_or("");
    // "I-90 Kennedy Expressway", "1,200 Park Ave", "COVID-19 Drive": not a house number.
    if let Some(c) = char_before(text, start) {
        if matches!(c, '-' | '#' | '/' | '.' | '$') {
            return false;
        }
        if c == ',' && text.get(..start.saturating_sub(1)).is_some_and(|t| t.ends_with(|c: char| c.is_ascii_digit())) {
            return false;
        }
    }
    if let Some(word) = previous_word(text, start) {
        if NOT_HOUSE_NUMBER_BEFORE.iter().any(|w| w.eq_ignore_ascii_case(word)) {
            return false;
        }
    }
    // "Drive-Thru", "Way-finding".
    if char_after(text, end) == Some('-') {
        return false;
    }
    let mut words = matched.split(' ').filter(|w| !w.is_empty()).skip(1);
    let mut previous = "";
    for word in words.by_ref() {
        let bare = word.trim_end_matches([',', '.']);
        if bare.eq_ignore_ascii_case("am") || bare.eq_ignore_ascii_case("pm") || bare == "A.M" || bare == "P.M" {
            return false;
        }
        let is_suffix = is_street_suffix(bare);
        if is_suffix && NOT_STREET_NAME.iter().any(|w| w.eq_ignore_ascii_case(previous)) {
            return false;
        }
        if is_suffix {
            // "4 Main Dr. Reyes ...": "Dr."/"St." followed by a capitalised word with nothing
            // address-like after it is a title or a saint.
            if (bare == "Dr" || bare == "St") && word.ends_with('.') && matched.trim_end().ends_with(word) {
                let after = text.get(end..).unwrap_or("");
                if after.starts_with(' ') && after.trim_start().starts_with(char::is_uppercase) {
                    return false;
                }
            }
            break;
        }
        previous = bare;
    }
    true
}

fn is_street_suffix(word: &str) -> bool {
    matches!(
        word,
        "Street" | "St" | "Avenue" | "Ave" | "Av" | "Road" | "Rd" | "Boulevard" | "Blvd" | "Drive"
            | "Dr" | "Lane" | "Ln" | "Court" | "Ct" | "Way" | "Place" | "Pl" | "Parkway" | "Pkwy"
            | "Highway" | "Hwy" | "Terrace" | "Ter" | "Circle" | "Cir" | "Trail" | "Trl" | "Square"
            | "Alley" | "Plaza" | "Plz" | "Expressway" | "Expy" | "Freeway" | "Fwy" | "Crescent"
            | "Cres" | "Turnpike" | "Tpke"
    )
}

/// The host of a URL or bare domain: no scheme, user info, port or path.
fn url_host(url: &str) -> &str {
    let no_scheme = url.find("://").map_or(url, |i| url.get(i + 3..).unwrap_or(""));
    let authority = no_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or(no_scheme);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    host_port.split(':').next().unwrap_or(host_port)
}

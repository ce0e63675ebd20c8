//! The pattern detectors: identifiers with a recognisable shape (SSNs, phone and fax
//! numbers, emails, URLs, IPs, ZIP+4, street addresses) and identifiers anchored on a
//! keyword (MRN, plan, account and SSN numbers, dates tied to a person, ages over 89).
//! The `on_*` entry points are called by the trigger scan; each runs its compiled regex on
//! a small window only, then applies the shape checks a regex cannot express.

use std::net::Ipv6Addr;

use regex::Regex;

use super::ages::AgeForms;
use super::biometric::BiometricDetector;
use super::device::DeviceDetector;
use super::family::PhiFamily;
use super::license::LicenseDetector;
use super::spanish::date_es;
use super::streets::Streets;
use super::text::{
    char_after, char_before, contains_ci, digit_count, find_in, first_number, in_sorted,
    last_number, next_word, previous_word, starts_with_ci, widen, window_after, window_before,
    Window,
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

/// Which keyword-anchored identifier a trigger word may introduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKeyword {
    Ssn,
    Mrn,
    Plan,
    Account,
}

/// Which kind of person-date keyword a trigger word is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateKeyword {
    /// "DOB", "date of birth", "date of service": any date or year after it.
    Label,
    /// "born": any date or year, unless it names a cohort.
    Born,
    /// "admitted", "discharged", "died": a full date, not a bare year.
    Event,
    /// "surgery", "procedure" after "his", "her", "their": a full date.
    Possessive,
    /// Spanish labels and events: "fecha de nacimiento", "nacido el", "dado de alta el".
    Spanish,
}

/// Top-level domains a bare domain must end in to count as a URL ("cdc.gov", "bit.ly");
/// the list keeps "a.m.", "e.g." and "St.Louis" out.
const TLDS: &[&str] = &[
    "com", "org", "net", "gov", "edu", "mil", "int", "us", "io", "co", "info", "biz", "health",
    "care", "app", "ly", "tv", "uk", "ca", "au", "nz", "ie", "de", "fr", "es", "mx", "site",
    "online", "news", "link", "page", "clinic", "hospital", "md", "ai",
];

/// An ASCII word boundary: unlike Unicode `\b` it keeps the lazy DFA usable on text
/// with emoji and accented letters, which alerts and posts routinely contain.
macro_rules! b {
    () => {
        r"(?-u:\b)"
    };
}

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// Street-type words that end the street part of an address (case-sensitive: "Dr", not "DR").
const STREET_SUFFIXES: &[&str] = &[
    "Street",
    "St",
    "Avenue",
    "Ave",
    "Av",
    "Road",
    "Rd",
    "Boulevard",
    "Blvd",
    "Drive",
    "Dr",
    "Lane",
    "Ln",
    "Court",
    "Ct",
    "Way",
    "Place",
    "Pl",
    "Parkway",
    "Pkwy",
    "Highway",
    "Hwy",
    "Terrace",
    "Ter",
    "Circle",
    "Cir",
    "Trail",
    "Trl",
    "Square",
    "Alley",
    "Plaza",
    "Plz",
    "Expressway",
    "Expy",
    "Freeway",
    "Fwy",
    "Crescent",
    "Cres",
    "Turnpike",
    "Tpke",
];

/// Toll-free area codes: never a patient's own number, and the hotlines public-health
/// posts cite all the time (CDC-INFO, Poison Control).
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// Words that, right before a number, make it a route, a bus line, a ward or a date
/// rather than a house number ("Highway 41 Lake Shore Drive", "July 4 Lake Shore Drive").
const NOT_HOUSE_NUMBER_BEFORE: &[&str] = &[
    "age",
    "aged",
    "ages",
    "apr",
    "april",
    "area",
    "aug",
    "august",
    "bus",
    "chapter",
    "day",
    "dec",
    "december",
    "district",
    "exit",
    "feb",
    "february",
    "gate",
    "highway",
    "hwy",
    "i",
    "interstate",
    "jan",
    "january",
    "jul",
    "july",
    "jun",
    "june",
    "level",
    "line",
    "lot",
    "mar",
    "march",
    "may",
    "no",
    "nov",
    "november",
    "number",
    "oct",
    "october",
    "page",
    "phase",
    "region",
    "route",
    "rte",
    "section",
    "sep",
    "sept",
    "september",
    "step",
    "tier",
    "us",
    "ward",
    "week",
    "zone",
];

/// Capitalised words before "Drive", "Way" or "Court" that make an event or an
/// institution rather than a street ("Blood Drive", "United Way", "Circuit Court").
const NOT_STREET_NAME: &[&str] = &[
    "am",
    "appellate",
    "blood",
    "book",
    "canned",
    "circuit",
    "clothing",
    "coat",
    "county",
    "diaper",
    "district",
    "donation",
    "drug",
    "family",
    "federal",
    "food",
    "fund",
    "housing",
    "immunization",
    "juvenile",
    "pm",
    "registration",
    "supply",
    "supreme",
    "test",
    "testing",
    "toy",
    "traffic",
    "united",
    "vaccination",
    "vaccine",
];

/// Nouns after "100-year-old" that make it a thing's age, not a person's.
const INANIMATE: &[&str] = &[
    "anniversary",
    "bank",
    "bridge",
    "building",
    "buildings",
    "business",
    "church",
    "clinic",
    "company",
    "dam",
    "event",
    "facility",
    "hall",
    "home",
    "hospital",
    "house",
    "infrastructure",
    "institution",
    "landmark",
    "law",
    "library",
    "main",
    "mains",
    "newspaper",
    "organisation",
    "organization",
    "park",
    "pipe",
    "pipes",
    "plant",
    "pool",
    "program",
    "programme",
    "pump",
    "record",
    "reservoir",
    "school",
    "sewer",
    "sewers",
    "site",
    "station",
    "structure",
    "system",
    "theater",
    "tower",
    "tradition",
    "tree",
    "trees",
    "water",
    "well",
    "wells",
];

/// Units after "aged 90" that make it an infant's age in days, weeks or months.
const AGE_UNITS: &[&str] = &[
    "day", "days", "hour", "hours", "minute", "minutes", "mo", "month", "months", "mos", "week",
    "weeks", "wk", "wks",
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
    ipv4: Regex,
    ipv6: Regex,
    street: Regex,
    po_box: Regex,
    date_label: Regex,
    date_born: Regex,
    date_event: Regex,
    age_year_old: Regex,
    age_label: Regex,
    age_words: Regex,
    age_after_name: Regex,
    date_possessive: Regex,
    date_spanish: Regex,
    email_obfuscated: Regex,
    ages: AgeForms,
    pub(crate) streets: Streets,
    pub(crate) device: DeviceDetector,
    pub(crate) license: LicenseDetector,
    pub(crate) biometric: BiometricDetector,
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
            r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:[0-9]{{1,2}}[/.\-][0-9]{{1,2}}[/.\-](?:[0-9]{{4}}|[0-9]{{2}})|[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}|{m}\.?\s+[0-9]{{1,2}}(?:st|nd|rd|th)?(?:,?\s+[0-9]{{4}})?|{m}\.?,?\s+[0-9]{{4}}|[0-9]{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{m}\.?(?:,?\s+[0-9]{{4}})?|{es}|[0-9]{{1,2}}/[0-9]{{1,2}}){b}",
            es = date_es(),
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
                r"(?:ssn|ss\#|soc(?:ial)?\.?\s+sec(?:urity)?\.?(?:\s*(?:number|num|no\.?|\#|card))?|segur(?:o|idad)\s+social|nss)"
            ))?,
            mrn_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:mrn|mr\s?\#|med(?:ical)?\.?\s+rec(?:ord)?s?\.?(?:\s*(?:number|num|no\.?|\#|id))?|chart\s*(?:number|num|no\.?|\#|id)|patient\s*(?:id|identifier|number|no\.?|\#)|hospital\s*(?:id|number|no\.?|\#)|record\s*(?:number|no\.?|\#)|case\s*(?:file|number|no\.?|\#|id)(?:\s*(?:number|no\.?|\#))?|file\s*(?:number|no\.?|\#)|visit\s*(?:id|number|no\.?|\#)|encounter(?:\s*(?:id|number|no\.?|\#))?|fin|csn|accession(?:\s*(?:number|no\.?|\#))?|expediente(?:\s+(?:cl[ií]nico|m[eé]dico))?|historia\s+cl[ií]nica(?:\s*(?:n[uú]mero|n\.?º|no\.?|\#))?|paciente\s*(?:id|n[uú]mero|no\.?|\#))"
            ))?,
            plan_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:(?:member|subscriber|beneficiary|enrollee|policy|group|plan|insurance|medicare|medicaid|bcbs)\s*(?:id|i\.d\.|identifier|\#|number|num|no\.?|card)|policy\s+holder\s+(?:id|number)|mbi|hicn|medicare|medicaid|medi-cal(?:\s*(?:id|\#|number|no\.?))?|(?:n[uú]mero\s+de\s+)?(?:afiliad[oa]|p[oó]liza|socio|beneficiario)|(?:tarjeta|carnet)\s+(?:del?\s+)?seguro|seguro\s+m[eé]dico)"
            ))?,
            account_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:account\s*(?:\#|number|num|no\.?|id)|acct\.?\s*(?:\#|number|num|no\.?)?|(?:billing|guarantor|patient|hospital)\s+(?:account|acct)\.?(?:\s*(?:\#|number|num|no\.?|id))?|(?:n[uú]mero\s+de\s+)?cuenta)"
            ))?,
            phone_nanp: re(
                r"(?:\+?1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ ]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}",
            )?,
            phone_keyword: re(concat!(
                r"(?i)",
                b!(),
                r"(?:call|phone|tel|telephone|cell|mobile|text|fax|reach|reached|dial|contact|number|line|whatsapp|llame|llamar|ll[aá]menos|tel[eé]fono|celular|m[oó]vil|comun[ií]quese|marque|n[uú]mero)",
                b!(),
                r"[^0-9\n]{0,28}?(?:(?:\+?1)?[2-9][0-9]{9}|[2-9][0-9]{2}[-. ][0-9]{4})",
                b!()
            ))?,
            phone_e164: re(r"\+[1-9](?:[ .\-]?[0-9]){7,14}")?,
            email: re(concat!(
                r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
                b!()
            ))?,
            ipv4: re(concat!(b!(), r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}", b!()))?,
            ipv6: re(
                r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-f]{0,4})",
            )?,
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
                s = format!("(?:{})", STREET_SUFFIXES.join("|"))
            ))?,
            po_box: re(concat!(
                r"(?i)",
                b!(),
                r"(?:p\.?\s?o\.?\s*box|post\s+office\s+box|apartado\s+(?:postal|de\s+correos)|apdo\.?|casilla(?:\s+de\s+correo)?)\s*\#?\s*[0-9]+",
                b!()
            ))?,
            date_label: re(&format!(
                r"(?i){b}(?:dob|d\.o\.b|dod|date\s+of\s+(?:birth|death|service|admission|discharge|visit|injury|surgery|procedure|operation|diagnosis|transplant)|surgery\s+date|procedure\s+date|birth\s*date|birthday|admission\s+date|admit\s+date|discharge\s+date|death\s+date|service\s+date|(?-i:DOS)){b}\.?[^0-9.;!?\n]{{0,30}}?{date_or_year}",
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
                r"(?:(?:(?:aged?|is|was|turned|turns|turning)\s+)?(?:ninety|one\s+hundred|a\s+hundred)(?:[- ](?:and[- ])?(?:one|two|three|four|five|six|seven|eight|nine|ten))?(?:[- ]years?[- ]old)?|(?:super)?centenarian|nonagenarian|in\s+(?:his|her|their)\s+(?:late\s+|early\s+|mid[- ])?(?:90s|nineties|100s)|noventa(?:\s+y\s+(?:un|uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve))?\s+a(?:ñ|n)os|cien\s+a(?:ñ|n)os|centenari[oa]|nonagenari[oa])",
                b!()
            ))?,
            age_after_name: re(concat!(
                r"(?:\p{Lu}\p{Ll}+|(?i:victim|patient|man|woman|resident|decedent|driver|pedestrian|grandmother|grandfather|mother|father|veteran|widow|widower|neighbou?r))",
                r"(?:,\s+[0-9]{2,3},|\s+\([0-9]{2,3}\))"
            ))?,
            date_possessive: re(&format!(
                r"(?i){b}(?:his|her|their|su)\s+(?:surgery|operation|procedure|transplant|appointment|biopsy|diagnosis|cirug[ií]a|operaci[oó]n|cita|trasplante)\s+(?:was\s+|is\s+|fue\s+|es\s+)?(?:on\s+|el\s+)?{date_full}",
                b = b!()
            ))?,
            date_spanish: re(&format!(
                concat!(
                    r"(?i){b}(?:",
                    r"fecha\s+de\s+(?:nacimiento|ingreso|alta|defunci[oó]n|fallecimiento|la\s+cirug[ií]a|cirug[ií]a|operaci[oó]n|atenci[oó]n|consulta)[^0-9.;!?\n]{{0,12}}?{date_or_year}",
                    r"|(?:nacid[oa]|naci[oó])(?:\s+(?:el|en|un|una))?[\s,:]+{date_or_year}",
                    r"|(?:ingres(?:[oó]|ad[oa])|hospitalizad[oa]|internad[oa]|dad[oa]\s+de\s+alta|de\s+alta|falleci(?:[oó]|d[oa])|muri[oó]|operad[oa])",
                    r"(?:\s+[\p{{L}}]+){{0,4}}?\s+(?:el\s+|en\s+)?{date_full}",
                    r")"
                ),
                b = b!(),
                date_or_year = date_or_year,
                date_full = date_full,
            ))?,
            email_obfuscated: re(concat!(
                r"(?i)[a-z0-9][a-z0-9._%+\-]*\s*(?:\[\s*(?:at|@)\s*\]|\(\s*(?:at|@)\s*\)|\{\s*at\s*\}|\s+at\s+)\s*",
                r"[a-z0-9\-]+(?:\s*(?:\.|\[\s*dot\s*\]|\(\s*dot\s*\)|\s+dot\s+)\s*[a-z0-9\-]+)*?",
                r"\s*(?:\.|\[\s*dot\s*\]|\(\s*dot\s*\)|\s+dot\s+)\s*(?:com|org|net|edu|gov|us|io|co|info|me|mx|es)",
                r"(?-u:\b)"
            ))?,
            ages: AgeForms::new()?,
            streets: Streets::new()?,
            device: DeviceDetector::new()?,
            license: LicenseDetector::new()?,
            biometric: BiometricDetector::new()?,
            allowed_domains,
            allowed_phones,
        })
    }

    /// Keyword-anchored identifiers: the keyword regex is run on a window starting at the
    /// trigger word, the identifier is read from the full text after it.
    pub(crate) fn on_keyword(
        &self,
        text: &str,
        kind: IdKeyword,
        win: Window,
        out: &mut Vec<RawHit>,
    ) {
        let (regex, family) = match kind {
            IdKeyword::Ssn => (&self.ssn_keyword, PhiFamily::Ssn),
            IdKeyword::Mrn => (&self.mrn_keyword, PhiFamily::MedicalRecordNumber),
            IdKeyword::Plan => (&self.plan_keyword, PhiFamily::HealthPlanNumber),
            IdKeyword::Account => (&self.account_keyword, PhiFamily::AccountNumber),
        };
        for m in find_in(regex, text, win) {
            let Some((s, e)) = identifier_after(text, m.end, 36) else {
                continue;
            };
            let token = text.get(s..e).unwrap_or("");
            // "outbreak case file 2024-117", "expediente del brote": an investigation's
            // number, not a patient's.
            let gap = text.get(m.end..s).unwrap_or("");
            let before = window_before(text, m.start, 24);
            if [gap, before].iter().any(|t| {
                [
                    "outbreak",
                    "brote",
                    "investigation",
                    "investigaci",
                    "inspection",
                    "inspecci",
                ]
                .iter()
                .any(|w| contains_ci(t, w))
            }) {
                continue;
            }
            let valid = if family == PhiFamily::Ssn {
                let digits = digit_count(token);
                let shaped = token
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b' ');
                // "the last four of his SSN, 6789", "SSN ending in 6789".
                let around = format!("{before} {gap}").to_ascii_lowercase();
                let last_four = digits == 4
                    && [
                        "last four",
                        "last 4",
                        "ending in",
                        "ends in",
                        "ultimos cuatro",
                        "últimos cuatro",
                        "terminaci",
                    ]
                    .iter()
                    .any(|w| around.contains(w));
                shaped && (digits == 9 || last_four)
            } else {
                // A bare "Medicare" is a weak anchor ("Medicare ... 1-800-633-4227"); a label
                // such as "policy number" is not, even for a phone-shaped value.
                let bare = m.text.eq_ignore_ascii_case("medicare")
                    || m.text.eq_ignore_ascii_case("medicaid");
                is_identifier(token, bare)
            };
            if valid {
                out.push(RawHit::new(family, s, e));
            }
        }
    }

    /// Shape detectors anchored on a run of ASCII digits at `start..end`: each runs only if
    /// the characters around the run could begin its shape.
    pub(crate) fn on_digits(&self, text: &str, start: usize, end: usize, out: &mut Vec<RawHit>) {
        let bytes = text.as_bytes();
        let len = end - start;
        let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let digits_at = |i: usize, n: usize| {
            (i..i + n).all(|j| at(j).is_ascii_digit()) && !at(i + n).is_ascii_digit()
        };
        let prev = if start == 0 { 0 } else { at(start - 1) };
        let next = at(end);
        let glued_before = prev.is_ascii_alphanumeric();

        if len == 3 && matches!(next, b'-' | b' ') && digits_at(end + 1, 2) {
            self.scan_ssn_shape(text, widen(text, start, start + 11), out);
        }
        // "312-555-0143", "(312) 555-0143", "1 312 555 0143": checked by hand before the regex
        // runs, since 3-digit numbers ("311.", "105 degrees") are everywhere in alerts.
        let is_sep = |b: u8| matches!(b, b'-' | b'.' | b' ');
        let rest_of_number = |i: usize| digits_at(i, 3) && is_sep(at(i + 3)) && digits_at(i + 4, 4);
        let area_code = len == 3
            && ((prev == b'('
                && next == b')'
                && rest_of_number(end + 1 + usize::from(at(end + 1) == b' ')))
                || (is_sep(next) && rest_of_number(end + 1)));
        let country_code = len == 1 && at(start) == b'1' && is_sep(next);
        if area_code || country_code {
            self.scan_phone_nanp(text, widen(text, start.saturating_sub(2), start + 18), out);
        }
        // "555-0199": a local number, looked at only after a phone word (the keyword regex).
        let part_of_longer = matches!(prev, b'-' | b'.' | b')')
            || (prev == b' ' && start >= 2 && matches!(at(start - 2), b'0'..=b'9' | b')'));
        let local = len == 3 && is_sep(next) && digits_at(end + 1, 4) && !part_of_longer;
        if (10..=11).contains(&len) || local {
            let number_end = if local { end + 5 } else { end };
            self.scan_phone_keyword(text, widen(text, start.saturating_sub(40), number_end), out);
        }
        if len == 5
            && next == b'-'
            && digits_at(end + 1, 4)
            && !joined_to_number(text, start, end + 5)
        {
            out.push(RawHit::new(PhiFamily::ZipCode, start, end + 5));
        }
        // ZIP+4 without its hyphen ("606121234", "60640 1122") after a state or "ZIP".
        let spaced_zip = len == 5 && next == b' ' && digits_at(end + 1, 4);
        if (len == 9 || spaced_zip) && !glued_before && zip_cue_before(text, start) {
            let zip_end = if spaced_zip { end + 5 } else { end };
            if !joined_to_number(text, start, zip_end) {
                out.push(RawHit::new(PhiFamily::ZipCode, start, zip_end));
            }
        }
        super::vehicle::on_digits(text, start, out);
        if len <= 3 && next == b'.' && at(end + 1).is_ascii_digit() && !glued_before {
            self.scan_ipv4(text, widen(text, start, start + 15), out);
        }
        if len <= 6 && !glued_before {
            let after_unit = if next.is_ascii_alphabetic() {
                end + 1
            } else {
                end
            };
            if at(after_unit) == b' '
                && (at(after_unit + 1).is_ascii_uppercase() || at(after_unit + 1).is_ascii_digit())
            {
                self.scan_street(text, widen(text, start, start + 110), out);
                if after_unit == end {
                    self.streets.on_house_number(text, start, out);
                }
            }
            if at(after_unit) == b' ' && at(after_unit + 1).is_ascii_alphabetic() {
                self.streets
                    .on_any_case(text, widen(text, start, start + 90), out);
            }
        }
        if (2..=3).contains(&len) && !glued_before {
            let value = text
                .get(start..end)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0);
            if is_identifiable_age(value) {
                let win = widen(text, start.saturating_sub(32), end + 40);
                self.scan_numeric_ages(text, win, out);
                self.scan_word_ages(text, win, out);
                self.ages.scan(text, win, out);
            }
        }
    }

    /// An `@`: an email address unless the domain is allowed or it is a fediverse handle.
    pub(crate) fn on_at(&self, text: &str, at: usize, out: &mut Vec<RawHit>) {
        let win = widen(text, at, at + 1);
        for m in find_in(&self.email, text, win) {
            // "@health@mastodon.social" is a fediverse handle: a public account, not a mailbox.
            if char_before(text, m.start) == Some('@') {
                continue;
            }
            let domain = m.text.rsplit('@').next().unwrap_or("");
            if self.domain_allowed(domain) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Email, m.start, m.end));
        }
    }

    /// A `.` followed by a label: a bare domain ("cdc.gov", "bit.ly/3xYz") if the label is
    /// a known top-level domain and the domain is not part of an email or a scheme URL.
    pub(crate) fn on_dot(&self, text: &str, dot: usize, out: &mut Vec<RawHit>) {
        let bytes = text.as_bytes();
        let is_label = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        let label_end = dot
            + 1
            + bytes
                .get(dot + 1..)
                .map_or(0, |r| r.iter().take_while(|b| is_label(**b)).count());
        let label = text.get(dot + 1..label_end).unwrap_or("");
        if !TLDS.iter().any(|t| t.eq_ignore_ascii_case(label)) {
            return;
        }
        // "cdc.gov.uk": only the last dot of a host decides; "x.com@": part of an email.
        let after = bytes.get(label_end).copied().unwrap_or(b' ');
        if after == b'@'
            || after == b'-'
            || (after == b'.' && bytes.get(label_end + 1).is_some_and(|b| is_label(*b)))
        {
            return;
        }
        let host_start = dot
            - bytes.get(..dot).map_or(0, |h| {
                h.iter()
                    .rev()
                    .take_while(|b| is_label(**b) || **b == b'.')
                    .count()
            });
        let host_start = host_start
            + text
                .get(host_start..dot)
                .map_or(0, |h| h.len() - h.trim_start_matches(['.', '-']).len());
        if host_start >= dot {
            return;
        }
        // The host of a URL the scheme detector reports, or the domain of an email address.
        if matches!(
            char_before(text, host_start),
            Some('@' | '/' | ':' | '.' | '_' | '%' | '+')
        ) {
            return;
        }
        let end = if after == b'/' {
            url_end(text, label_end)
        } else {
            label_end
        };
        self.push_url(text, host_start, end, out);
    }

    /// A URL with a scheme or `www.`, found from its first word.
    pub(crate) fn on_url_start(&self, text: &str, word_start: usize, out: &mut Vec<RawHit>) {
        let rest = text.get(word_start..).unwrap_or("");
        let is_url = ["http://", "https://", "ftp://", "www."]
            .iter()
            .any(|p| starts_with_ci(rest, p) && rest.len() > p.len());
        if is_url && !char_before(text, word_start).is_some_and(|c| c.is_alphanumeric()) {
            self.push_url(text, word_start, url_end(text, word_start), out);
        }
    }

    /// A `+` before a digit: an international (E.164) number.
    pub(crate) fn on_plus(&self, text: &str, plus: usize, out: &mut Vec<RawHit>) {
        for m in find_in(&self.phone_e164, text, widen(text, plus, plus + 24)) {
            if m.start != plus
                || char_before(text, m.start).is_some_and(char::is_alphanumeric)
                || char_after(text, m.end).is_some_and(|c| c.is_ascii_digit())
            {
                continue;
            }
            self.push_phone(text, m.start, m.end, out);
        }
    }

    /// An e-mail address written to dodge filters ("jane.doe [at] gmail [dot] com"),
    /// found from "at" in brackets, "dot" or a webmail name.
    pub(crate) fn on_obfuscated_email(&self, text: &str, word_start: usize, out: &mut Vec<RawHit>) {
        let win = widen(text, word_start.saturating_sub(40), word_start + 40);
        for m in find_in(&self.email_obfuscated, text, win) {
            let plain = !m.text.contains(['[', '(', '{']) && !contains_ci(m.text, " dot ");
            let webmail = [
                "gmail",
                "yahoo",
                "hotmail",
                "outlook",
                "aol",
                "icloud",
                "protonmail",
            ]
            .iter()
            .any(|w| contains_ci(m.text, w));
            // "find us at cdc.gov" is an address for a web page, not a mailbox.
            if plain && !webmail {
                continue;
            }
            let domain = m
                .text
                .rsplit(['@', ']', ')', '}', ' '])
                .next()
                .unwrap_or("");
            if self.domain_allowed(domain) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Email, m.start, m.end));
        }
    }

    /// "PO Box 123", found from the word "box".
    pub(crate) fn on_box(&self, text: &str, word_start: usize, out: &mut Vec<RawHit>) {
        let win = widen(text, word_start.saturating_sub(16), word_start + 32);
        for m in find_in(&self.po_box, text, win) {
            out.push(RawHit::new(PhiFamily::StreetAddress, m.start, m.end));
        }
    }

    /// Dates tied to a person, found from their label or verb.
    pub(crate) fn on_date_keyword(
        &self,
        text: &str,
        kind: DateKeyword,
        word_start: usize,
        out: &mut Vec<RawHit>,
    ) {
        let regex = match kind {
            DateKeyword::Label => &self.date_label,
            DateKeyword::Born => &self.date_born,
            DateKeyword::Event => &self.date_event,
            DateKeyword::Possessive => &self.date_possessive,
            DateKeyword::Spanish => &self.date_spanish,
        };
        // The possessive and "dado de alta" come before the trigger word.
        let from = match kind {
            DateKeyword::Possessive | DateKeyword::Spanish => word_start.saturating_sub(12),
            _ => word_start,
        };
        for m in find_in(regex, text, widen(text, from, word_start + 96)) {
            // "2/3 of the patients": a fraction, not a date.
            if window_after(text, m.end, 3) == " of" {
                continue;
            }
            let start = date_start(m.text).map_or(m.start, |i| m.start + i);
            let after = window_after(text, m.end, 32).trim_start();
            // "born in 2019 or later", "born 1945 through 1965": a cohort, not a person.
            let cohort = kind == DateKeyword::Born
                && (["through", "to ", "- ", "-2", "-1", "\u{2013}"]
                    .iter()
                    .any(|p| starts_with_ci(after, p))
                    || ["or ", "and "].iter().any(|p| {
                        starts_with_ci(after, p)
                            && [
                                "later", "after", "earlier", "before", "older", "younger", "since",
                            ]
                            .iter()
                            .any(|w| {
                                starts_with_ci(after.get(p.len()..).unwrap_or("").trim_start(), w)
                            })
                    }));
            // "The hospital admitted 37 patients on July 4", "admitted its first patient on
            // March 1, 1925": an institution's event, not one person's admission.
            let institutional = kind == DateKeyword::Event
                && (counted_object(window_after(text, m.start, 40))
                    || next_word(text, m.start + m.text.find(' ').unwrap_or(0)).is_some_and(|w| {
                        [
                            "its", "their", "our", "more", "no", "several", "many", "dozens",
                            "hundreds",
                        ]
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(w))
                    }));
            if !cohort && !institutional {
                out.push(RawHit::new(PhiFamily::Date, start, m.end));
            }
        }
    }

    /// Ages spelled out or as a decade ("ninety-three years old", "in her late 90s").
    pub(crate) fn on_age_word(
        &self,
        text: &str,
        word_start: usize,
        word_end: usize,
        out: &mut Vec<RawHit>,
    ) {
        self.scan_word_ages(
            text,
            widen(text, word_start.saturating_sub(24), word_end + 40),
            out,
        );
    }

    /// IPv6 addresses have no cheap anchor; the caller runs this only when the text has
    /// a `::` or at least seven colons.
    pub(crate) fn scan_ipv6(&self, text: &str, out: &mut Vec<RawHit>) {
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

    fn scan_ssn_shape(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.ssn_shape, text, win) {
            if joined_to_number(text, m.start, m.end) {
                continue;
            }
            let s = m.text;
            let area = s.get(..3).unwrap_or("");
            let group = s.get(4..6).unwrap_or("");
            let serial = s.get(7..).unwrap_or("");
            if area == "000" || area == "666" || group == "00" || serial == "0000" {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Ssn, m.start, m.end));
        }
    }

    fn scan_phone_nanp(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.phone_nanp, text, win) {
            let (s, e) = (m.start, m.end);
            if char_before(text, s).is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.')
                || char_after(text, e).is_some_and(char::is_alphanumeric)
                || (char_after(text, e) == Some('-')
                    && text
                        .get(e + 1..)
                        .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            {
                continue;
            }
            self.push_phone(text, s, e, out);
        }
    }

    fn scan_phone_keyword(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.phone_keyword, text, win) {
            // The gap after the phone word holds no digit: the number starts at the first.
            let first_digit = m.text.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
            let plus = usize::from(
                first_digit > 0 && m.text.get(first_digit - 1..first_digit) == Some("+"),
            );
            let number_start = m.start + first_digit - plus;
            if char_after(text, m.end) == Some('-') {
                continue;
            }
            self.push_phone(text, number_start, m.end, out);
        }
    }

    fn push_phone(&self, text: &str, start: usize, end: usize, out: &mut Vec<RawHit>) {
        // The digits without a leading North American "1", as `phone_digits` stores the allow list.
        let mut buf = [0u8; 24];
        let mut n = 0;
        for b in text
            .get(start..end)
            .unwrap_or("")
            .bytes()
            .filter(u8::is_ascii_digit)
        {
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
        let digits = match buf.get(..n) {
            Some([b'1', rest @ ..]) if n == 11 => rest,
            Some(all) => all,
            None => &[],
        };
        if digits.len() == 10
            && TOLL_FREE
                .iter()
                .any(|code| digits.starts_with(code.as_bytes()))
        {
            return;
        }
        if self
            .allowed_phones
            .iter()
            .any(|allowed| allowed.as_bytes() == digits)
        {
            return;
        }
        // Only the words since the previous number or sentence belong to this number:
        // "Call 312-555-0100 or fax 312-555-0199" makes the second one a fax, not the first.
        let before = window_before(text, start, 48);
        let cut = before
            .rfind(|c: char| c.is_ascii_digit() || matches!(c, '.' | '!' | '?' | ';' | '\n'))
            .map_or(0, |i| i + 1);
        let before = before.get(cut..).unwrap_or("");
        // After the number, only a label right behind it counts: "312-555-0177 (fax)", not
        // "312-555-0187 or fax 312-555-0199".
        let label_after =
            window_after(text, end, 12).trim_start_matches([' ', '(', ',', '-', '\u{2013}']);
        let fax = contains_ci(before, "fax")
            || contains_ci(before, "facsimile")
            || starts_with_ci(label_after, "fax");
        let family = if fax {
            PhiFamily::Fax
        } else {
            PhiFamily::Phone
        };
        out.push(RawHit::new(family, start, end));
    }

    fn push_url(&self, text: &str, start: usize, raw_end: usize, out: &mut Vec<RawHit>) {
        let raw = text.get(start..raw_end).unwrap_or("");
        let trimmed =
            raw.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"']);
        if trimmed.is_empty() || self.domain_allowed(url_host(trimmed)) {
            return;
        }
        out.push(RawHit::new(PhiFamily::Url, start, start + trimmed.len()));
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
            host.get(cut + 1..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(d))
                && host.as_bytes().get(cut) == Some(&b'.')
        })
    }

    fn scan_ipv4(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.ipv4, text, win) {
            let (s, e) = (m.start, m.end);
            // "1.2.3.4.5" is a version or a section number, not an address.
            if char_before(text, s) == Some('.')
                || (char_after(text, e) == Some('.')
                    && text
                        .get(e + 1..)
                        .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit())))
            {
                continue;
            }
            let valid = m.text.split('.').all(|octet| {
                octet.parse::<u16>().is_ok_and(|v| v <= 255)
                    && !(octet.len() > 1 && octet.starts_with('0'))
            });
            if valid {
                out.push(RawHit::new(PhiFamily::IpAddress, s, e));
            }
        }
    }

    fn scan_street(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.street, text, win) {
            if plausible_street_address(text, m.start, m.end) {
                // "42 Oak Street." ends a sentence; the full stop is not part of the address.
                let end = m.start + m.text.trim_end_matches(['.', ',']).len();
                out.push(RawHit::new(PhiFamily::StreetAddress, m.start, end));
            }
        }
    }

    fn scan_numeric_ages(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.age_year_old, text, win) {
            let Some(age) = first_number(m.text) else {
                continue;
            };
            let noun = next_word(text, m.end).unwrap_or("");
            let thing = in_sorted(INANIMATE, noun);
            if is_identifiable_age(age) && !thing {
                out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
            }
        }
        for m in find_in(&self.age_label, text, win) {
            let Some(age) = last_number(m.text) else {
                continue;
            };
            if !is_identifiable_age(age) || is_age_group(text, m.end) {
                continue;
            }
            out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
        }
        for m in find_in(&self.age_after_name, text, win) {
            let Some(age) = last_number(m.text) else {
                continue;
            };
            if !is_identifiable_age(age) {
                continue;
            }
            let s = m.text;
            let num_start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
            let num_end = s
                .rfind(|c: char| c.is_ascii_digit())
                .map_or(s.len(), |i| i + 1);
            out.push(RawHit::new(
                PhiFamily::Age,
                m.start + num_start,
                m.start + num_end,
            ));
        }
    }

    fn scan_word_ages(&self, text: &str, win: Window, out: &mut Vec<RawHit>) {
        for m in find_in(&self.age_words, text, win) {
            if (m.text.ends_with("años") || m.text.ends_with("anos"))
                && super::ages::spanish_group(text, m.start, m.end)
            {
                continue;
            }
            let noun = next_word(text, m.end).unwrap_or("");
            // "is ninety percent effective", "turned one hundred degrees".
            let not_age = [
                "percent", "per", "degrees", "days", "minutes", "people", "cases",
            ];
            if in_sorted(INANIMATE, noun)
                || not_age.iter().any(|w| w.eq_ignore_ascii_case(noun))
                || window_after(text, m.end, 2).trim_start().starts_with('%')
            {
                continue;
            }
            // A spoken number is an age only as "... years old" or after "aged", "is", "turned";
            // the hit starts at the number itself.
            let lower = m.text.to_ascii_lowercase();
            let spoken = lower.contains("ninety") || lower.contains("hundred");
            if spoken && !lower.starts_with("in ") {
                let number_at = ["ninety", "one", "a "]
                    .iter()
                    .filter_map(|w| lower.find(w))
                    .min()
                    .unwrap_or(0);
                if number_at == 0 && !lower.ends_with("old") {
                    continue;
                }
                out.push(RawHit::new(PhiFamily::Age, m.start + number_at, m.end));
                continue;
            }
            out.push(RawHit::new(PhiFamily::Age, m.start, m.end));
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
        "and older",
        "and over",
        "and up",
        "and above",
        "or older",
        "or over",
        "or above",
        "plus",
        "to ",
        "through",
    ];
    if group.iter().any(|p| starts_with_ci(trimmed, p)) {
        return true;
    }
    let unit = next_word(text, end).unwrap_or("");
    in_sorted(AGE_UNITS, unit)
}

/// Whether a ZIP label or a state's two capitals come just before byte `start` ("ZIP
/// 606121234", "Chicago, IL 606401122", "código postal 60623").
fn zip_cue_before(text: &str, start: usize) -> bool {
    let before = window_before(text, start, 24);
    let lower = before.to_ascii_lowercase();
    if ["zip", "postal", "c.p.", "address", "mail"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return true;
    }
    let trimmed = before.trim_end_matches([' ', ',']);
    let bytes = trimmed.as_bytes();
    let n = bytes.len();
    n >= 2
        && bytes
            .get(n - 2..)
            .is_some_and(|s| s.iter().all(u8::is_ascii_uppercase))
        && (n == 2 || bytes.get(n - 3).is_some_and(|b| !b.is_ascii_alphanumeric()))
        && n < before.len()
}

/// Whether the match at `start..end` is glued to more digits ("1-123-45-6789-0").
fn joined_to_number(text: &str, start: usize, end: usize) -> bool {
    let digit_after_dash = |i: usize| {
        char_after(text, i) == Some('-')
            && text
                .get(i + 1..)
                .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()))
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
        "jan"
            | "january"
            | "feb"
            | "february"
            | "mar"
            | "march"
            | "apr"
            | "april"
            | "may"
            | "jun"
            | "june"
            | "jul"
            | "july"
            | "aug"
            | "august"
            | "sep"
            | "sept"
            | "september"
            | "oct"
            | "october"
            | "nov"
            | "november"
            | "dec"
            | "december"
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
pub(crate) fn identifier_after(text: &str, from: usize, max_gap: usize) -> Option<(usize, usize)> {
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
            let abbreviation = [
                "mr", "mrs", "ms", "dr", "no", "st", "jr", "sr", "id", "acct", "rec", "med",
            ]
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
pub(crate) fn is_identifier(token: &str, reject_phone_shaped: bool) -> bool {
    let digits = digit_count(token);
    let letters = token.bytes().filter(u8::is_ascii_alphabetic).count();
    if digits < 4 {
        return false;
    }
    let bare_year =
        token.len() == 4 && letters == 0 && (token.starts_with("19") || token.starts_with("20"));
    let parts = || token.split('-').map(str::len);
    let phone_shaped = letters == 0 && (parts().eq([3, 3, 4]) || parts().eq([1, 3, 3, 4]));
    !(bare_year || (phone_shaped && reject_phone_shaped))
}

/// Shape checks on a street-address match that the regex cannot express.
pub(crate) fn plausible_street_address(text: &str, start: usize, end: usize) -> bool {
    let matched = text.get(start..end).unwrap_or("");
    if public_venue_before(text, start) {
        return false;
    }
    // "I-90 Kennedy Expressway", "1,200 Park Ave", "COVID-19 Drive": not a house number.
    if let Some(c) = char_before(text, start) {
        if matches!(c, '-' | '#' | '/' | '.' | '$') {
            return false;
        }
        if c == ','
            && text
                .get(..start.saturating_sub(1))
                .is_some_and(|t| t.ends_with(|c: char| c.is_ascii_digit()))
        {
            return false;
        }
    }
    if let Some(word) = previous_word(text, start) {
        if in_sorted(NOT_HOUSE_NUMBER_BEFORE, word) {
            return false;
        }
    }
    // "Drive-Thru", "Way-finding".
    if char_after(text, end) == Some('-') {
        return false;
    }
    let mut previous = "";
    for word in matched.split(' ').filter(|w| !w.is_empty()).skip(1) {
        let bare = word.trim_end_matches([',', '.']);
        if bare.eq_ignore_ascii_case("am")
            || bare.eq_ignore_ascii_case("pm")
            || bare == "A.M"
            || bare == "P.M"
        {
            return false;
        }
        let is_suffix = is_street_suffix(bare);
        if is_suffix && in_sorted(NOT_STREET_NAME, previous) {
            return false;
        }
        if is_suffix {
            // "4 Main Dr. Reyes ...": "Dr."/"St." followed by a capitalised word with nothing
            // address-like after it is a title or a saint.
            if (bare == "Dr" || bare == "St")
                && word.ends_with('.')
                && matched.trim_end().ends_with(word)
            {
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

/// Places open to the public whose address an alert gives ("the clinic at 1500 S
/// Fairfield Ave", "centro de enfriamiento en Calle Olmo 42").
const VENUES: &[&str] = &[
    "biblioteca",
    "building",
    "center",
    "centre",
    "centro",
    "church",
    "clinic",
    "clinica",
    "college",
    "department",
    "edificio",
    "escuela",
    "event",
    "fair",
    "feria",
    "hospital",
    "iglesia",
    "library",
    "location",
    "locations",
    "office",
    "oficina",
    "parque",
    "pharmacy",
    "school",
    "shelter",
    "site",
    "sitio",
    "station",
];

/// Words that put a person at the address, whatever else is there ("the patient at").
const PERSONAL: &[&str] = &[
    "casa", "family", "familia", "found", "her", "his", "home", "house", "lives", "paciente",
    "patient", "resident", "su", "vive",
];

/// Whether the clause before an address at `start` introduces a public venue and no
/// person ("Cooling center at 4314 S Cottage Grove Ave").
fn public_venue_before(text: &str, start: usize) -> bool {
    let before = window_before(text, start, 40);
    let cut = before
        .rfind(['.', '!', '?', ';', '\n'])
        .map_or(0, |i| i + 1);
    let clause = before.get(cut..).unwrap_or("");
    let words = || {
        clause
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
    };
    words().any(|w| in_sorted(VENUES, w)) && !words().any(|w| in_sorted(PERSONAL, w))
}

fn is_street_suffix(word: &str) -> bool {
    STREET_SUFFIXES.contains(&word)
}

/// Where a URL starting at or containing `from` ends: the next whitespace, quote or angle bracket.
fn url_end(text: &str, from: usize) -> usize {
    let stop = |b: &u8| b.is_ascii_whitespace() || matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`');
    let end = text
        .as_bytes()
        .get(from..)
        .and_then(|rest| rest.iter().position(stop))
        .map_or(text.len(), |i| from + i);
    // Non-ASCII text glued to a URL ends it too ("health.example.gov。"), at a char boundary.
    let url = text.get(from..end).unwrap_or("");
    url.find(|c: char| !c.is_ascii() && (c.is_whitespace() || !c.is_alphanumeric()))
        .map_or(end, |i| from + i)
}

/// The host of a URL or bare domain: no scheme, user info, port or path.
fn url_host(url: &str) -> &str {
    let no_scheme = url
        .find("://")
        .map_or(url, |i| url.get(i + 3..).unwrap_or(""));
    let authority = no_scheme.split(['/', '?', '#']).next().unwrap_or(no_scheme);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    host_port.split(':').next().unwrap_or(host_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted_lower_case_and_unique_for_binary_search() {
        for list in [
            NOT_HOUSE_NUMBER_BEFORE,
            NOT_STREET_NAME,
            INANIMATE,
            AGE_UNITS,
        ] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "unsorted or duplicate: {list:?}"
            );
            assert!(list.iter().all(|w| *w == w.to_lowercase()), "{list:?}");
        }
    }

    #[test]
    fn identifiers_need_four_digits_and_are_not_years() {
        assert!(is_identifier("00123456", false));
        assert!(is_identifier("1EG4-TE5-MK73", true));
        assert!(!is_identifier("2024", false));
        assert!(!is_identifier("123", false));
        assert!(is_identifier("884-221-9937", false));
        assert!(!is_identifier("800-633-4227", true));
    }
}

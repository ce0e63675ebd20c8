//! Unit tests for the guard's public behaviour, one or more per family, plus attribution,
//! suppression, configuration errors and a property test over arbitrary text. The
//! corpus-wide recall and false-positive measurement lives in `corpus_tests`.

use proptest::prelude::*;

use super::corpus_tests::test_config;
use super::{CustomPattern, PhiConfig, PhiConfigError, PhiFamily, PhiGuard, PhiHit, ValueSpan};

/// One guard for all tests: building compiles every regex, which is what `new` is for.
fn guard() -> PhiGuard {
    static GUARD: std::sync::OnceLock<PhiGuard> = std::sync::OnceLock::new();
    GUARD
        .get_or_init(|| PhiGuard::new(&test_config()).expect("test config is valid"))
        .clone()
}

/// The families found in `text`, with the text each hit covers.
fn found(text: &str) -> Vec<(PhiFamily, &str)> {
    guard()
        .check(text, &[])
        .iter()
        .map(|h| (h.family, text.get(h.start..h.end).unwrap_or("<bad span>")))
        .collect()
}

fn families(text: &str) -> Vec<PhiFamily> {
    found(text).into_iter().map(|(f, _)| f).collect()
}

#[track_caller]
fn assert_hit(text: &str, family: PhiFamily, covered: &str) {
    let hits = found(text);
    assert!(
        hits.contains(&(family, covered)),
        "expected {family} hit on {covered:?} in {text:?}, got {hits:?}"
    );
}

#[track_caller]
fn assert_clean(text: &str) {
    let hits = found(text);
    assert!(
        hits.is_empty(),
        "expected no hits in {text:?}, got {hits:?}"
    );
}

#[test]
fn family_names_round_trip_through_as_str_from_str_and_serde() {
    for family in PhiFamily::ALL {
        assert_eq!(family.as_str().parse::<PhiFamily>(), Ok(family));
        let json = serde_json::to_string(&family).expect("serialises");
        assert_eq!(json, format!("\"{}\"", family.as_str()));
        assert!(!family.description().is_empty());
    }
    assert_eq!("ZIP_CODE".parse::<PhiFamily>(), Ok(PhiFamily::ZipCode));
    let err = "postcode".parse::<PhiFamily>().expect_err("unknown");
    assert!(err.to_string().contains("postcode"));
}

#[test]
fn config_reads_from_the_phi_section_and_refuses_unknown_keys() {
    let config: PhiConfig = toml::from_str(
        r#"
        allowed_domains = ["health.example.gov"]
        allowed_phone_numbers = ["312-555-0100"]
        [[custom_patterns]]
        name = "employee_badge"
        regex = '\bEMP-[0-9]{6}\b'
        "#,
    )
    .expect("valid config");
    assert_eq!(config.custom_patterns.len(), 1);
    let empty: PhiConfig = toml::from_str("").expect("every field defaults");
    assert!(empty.allowed_domains.is_empty());
    assert!(toml::from_str::<PhiConfig>("allowed_domain = [\"x.gov\"]").is_err());
    assert!(toml::from_str::<PhiConfig>(
        "[[custom_patterns]]\nname = \"a\"\nregex = \"b\"\nflags = \"i\""
    )
    .is_err());
}

#[test]
fn an_invalid_custom_regex_is_an_error_naming_the_pattern() {
    let config = PhiConfig {
        custom_patterns: vec![CustomPattern {
            name: "badge_number".to_owned(),
            regex: "EMP-[0-9".to_owned(),
        }],
        ..PhiConfig::default()
    };
    let err = PhiGuard::new(&config).expect_err("invalid regex");
    assert!(matches!(&err, PhiConfigError::InvalidPattern { name, .. } if name == "badge_number"));
    assert!(err.to_string().contains("badge_number"), "{err}");
}

#[test]
fn custom_patterns_that_match_nothing_or_have_no_name_are_refused() {
    let empty_match = PhiConfig {
        custom_patterns: vec![CustomPattern {
            name: "anything".to_owned(),
            regex: "x*".to_owned(),
        }],
        ..PhiConfig::default()
    };
    assert!(matches!(
        PhiGuard::new(&empty_match),
        Err(PhiConfigError::EmptyMatchPattern { .. })
    ));
    let unnamed = PhiConfig {
        custom_patterns: vec![CustomPattern {
            name: " ".to_owned(),
            regex: "EMP".to_owned(),
        }],
        ..PhiConfig::default()
    };
    assert!(matches!(
        PhiGuard::new(&unnamed),
        Err(PhiConfigError::UnnamedPattern { .. })
    ));
}

#[test]
fn allowed_domains_and_phones_are_normalised_and_validated() {
    let config = PhiConfig {
        allowed_domains: vec!["https://Health.Example.gov/".to_owned()],
        allowed_phone_numbers: vec!["+1 (312) 555-0100".to_owned()],
        ..PhiConfig::default()
    };
    let guard = PhiGuard::new(&config).expect("valid");
    let text = "See https://www.health.example.gov/x or call 312.555.0100.";
    assert!(guard.check(text, &[]).is_empty());

    let bad_domain = PhiConfig {
        allowed_domains: vec!["not a domain".to_owned()],
        ..PhiConfig::default()
    };
    assert!(matches!(
        PhiGuard::new(&bad_domain),
        Err(PhiConfigError::InvalidAllowedDomain { .. })
    ));
    let bad_phone = PhiConfig {
        allowed_phone_numbers: vec!["main line".to_owned()],
        ..PhiConfig::default()
    };
    assert!(matches!(
        PhiGuard::new(&bad_phone),
        Err(PhiConfigError::InvalidAllowedPhoneNumber { .. })
    ));
}

#[test]
fn guard_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PhiGuard>();
    let a = guard();
    let b = a.clone();
    assert_eq!(
        a.check("SSN 123-45-6789", &[]),
        b.check("SSN 123-45-6789", &[])
    );
}

#[test]
fn patient_names_are_hits_but_clinicians_places_and_organisations_are_not() {
    assert_hit(
        "Update: patient John Smith is in recovery.",
        PhiFamily::Name,
        "John Smith",
    );
    assert_hit(
        "Mrs. Garcia thanked the nurses.",
        PhiFamily::Name,
        "Mrs. Garcia",
    );
    assert_hit(
        "Mr. Lee, 54, was taken to Mercy Hospital.",
        PhiFamily::Name,
        "Mr. Lee",
    );
    assert_hit(
        "Jane Doe was admitted overnight.",
        PhiFamily::Name,
        "Jane Doe",
    );
    assert_hit(
        "John Smith, a 45-year-old teacher, is the first case.",
        PhiFamily::Name,
        "John Smith",
    );
    assert_hit(
        "The patient, Maria Lopez, agreed to share her story.",
        PhiFamily::Name,
        "Maria Lopez",
    );
    assert_hit(
        "Dr. Reyes's patient Sam Park is awake.",
        PhiFamily::Name,
        "Sam Park",
    );
    assert_clean("Dr. Anna Reyes is leading the procedure this morning.");
    assert_clean("Dr. Anna Reyes was seen by reporters arriving at 8 a.m.");
    assert_clean(
        "Mercy Hospital and the Cook County Department of Public Health are coordinating.",
    );
    assert_clean("Boil Water Advisory Issued For North Side");
    assert_clean("Our Patient Safety Week events begin Monday.");
    assert_clean("Ms. Alvarez, our communications director, will brief reporters at 2 p.m.");
    assert_clean("Nurse practitioner Kelly Brennan, NP, will answer questions.");
}

#[test]
fn dates_tied_to_a_person_are_hits_but_event_dates_and_cohorts_are_not() {
    assert_hit(
        "Patient (DOB 03/14/1957) was moved.",
        PhiFamily::Date,
        "03/14/1957",
    );
    assert_hit(
        "Date of birth: March 3, 1962.",
        PhiFamily::Date,
        "March 3, 1962",
    );
    assert_hit(
        "She was admitted on July 14 with a fever.",
        PhiFamily::Date,
        "July 14",
    );
    assert_hit(
        "He was discharged on 08/02/2024.",
        PhiFamily::Date,
        "08/02/2024",
    );
    assert_hit(
        "She was admitted to St. Mary's and discharged on January 12.",
        PhiFamily::Date,
        "January 12",
    );
    assert_hit(
        "Our oldest volunteer was born in 1931.",
        PhiFamily::Date,
        "1931",
    );
    assert_clean("The advisory issued on July 14 remains in effect.");
    assert_clean("The clinic runs March 3 to March 5.");
    assert_clean("Children born in 2019 or later should get two doses.");
    assert_clean("The hospital admitted 37 patients between Friday and Sunday.");
}

#[test]
fn phone_numbers_are_hits_but_hotlines_short_codes_times_and_counts_are_not() {
    assert_hit(
        "Call her at (312) 555-0143.",
        PhiFamily::Phone,
        "(312) 555-0143",
    );
    assert_hit(
        "Reach him on 312-555-0187.",
        PhiFamily::Phone,
        "312-555-0187",
    );
    assert_hit(
        "Text 312.555.0162 for updates.",
        PhiFamily::Phone,
        "312.555.0162",
    );
    assert_hit(
        "Call +1 312 555 0199 now.",
        PhiFamily::Phone,
        "+1 312 555 0199",
    );
    assert_hit(
        "Her mobile number is 3125550176.",
        PhiFamily::Phone,
        "3125550176",
    );
    assert_hit(
        "Reach the family on +44 20 7946 0958.",
        PhiFamily::Phone,
        "+44 20 7946 0958",
    );
    assert_clean(
        "Call 911 in an emergency, 311 for city services, 988 in a crisis, or 211 for help.",
    );
    assert_clean("More than 1,200 residents were vaccinated by 10:30 in ZIP 60612.");
    assert_clean("Call our public line at 312-555-0100 or Poison Control at 1-800-222-1222.");
    assert_clean("The 2024-2025 vaccine is available; the heat index will reach 105 degrees.");
}

#[test]
fn a_number_in_fax_context_is_a_fax_hit_not_a_phone_hit() {
    assert_eq!(
        families("Fax the signed release to (312) 555-0190."),
        vec![PhiFamily::Fax]
    );
    assert_eq!(
        families("Call 312-555-0187 or fax 312-555-0199."),
        vec![PhiFamily::Phone, PhiFamily::Fax]
    );
    assert_hit(
        "Records go to 312-555-0177 (fax).",
        PhiFamily::Fax,
        "312-555-0177",
    );
}

#[test]
fn email_addresses_are_hits_unless_on_an_allowed_domain_or_a_fediverse_handle() {
    assert_hit(
        "Write to jane.doe1987@yahoo.com today.",
        PhiFamily::Email,
        "jane.doe1987@yahoo.com",
    );
    assert_clean("Questions? Email info@health.example.gov.");
    assert_clean("Follow @health@mastodon.social and @CDPH.");
}

#[test]
fn ssns_are_hits_in_either_layout_and_after_the_keyword() {
    assert_hit(
        "SSN 123-45-6789 was on the form.",
        PhiFamily::Ssn,
        "123-45-6789",
    );
    assert_hit(
        "It reads 219 09 9999 at the top.",
        PhiFamily::Ssn,
        "219 09 9999",
    );
    assert_hit("Her SSN is 078051120.", PhiFamily::Ssn, "078051120");
    assert_hit(
        "social security number: 345678901",
        PhiFamily::Ssn,
        "345678901",
    );
    assert_clean("Our records show 000-12-3456 is not a valid number pattern.");
}

#[test]
fn medical_record_numbers_are_hits_after_their_labels() {
    assert_hit(
        "Patient MRN 00123456 is ready.",
        PhiFamily::MedicalRecordNumber,
        "00123456",
    );
    assert_hit(
        "Pull medical record #A1234567.",
        PhiFamily::MedicalRecordNumber,
        "A1234567",
    );
    assert_hit(
        "MR# 7788123 was updated.",
        PhiFamily::MedicalRecordNumber,
        "7788123",
    );
    assert_clean("The patient is stable and medical records are secure.");
}

#[test]
fn health_plan_numbers_are_hits_after_their_labels_but_not_after_a_bare_medicare_hotline() {
    assert_hit(
        "His Medicare number is 1EG4-TE5-MK73.",
        PhiFamily::HealthPlanNumber,
        "1EG4-TE5-MK73",
    );
    assert_hit(
        "Member ID XGH123456789 was denied.",
        PhiFamily::HealthPlanNumber,
        "XGH123456789",
    );
    assert_hit(
        "Policy number 884-221-9937 covers it.",
        PhiFamily::HealthPlanNumber,
        "884-221-9937",
    );
    assert_clean("Medicare questions? Call 1-800-633-4227.");
    assert_clean("Medicare covers the flu shot for people 65 and older.");
}

#[test]
fn account_numbers_are_hits_after_their_labels() {
    assert_hit(
        "Donate to account #1234567890.",
        PhiFamily::AccountNumber,
        "1234567890",
    );
    assert_hit(
        "Acct. no. 556677889 shows the co-pay.",
        PhiFamily::AccountNumber,
        "556677889",
    );
    assert_clean("Account for travel time; the clinic closes at 5 p.m.");
}

#[test]
fn street_addresses_and_po_boxes_are_hits_and_swallow_a_following_zip() {
    assert_hit(
        "He lives at 1200 W Harrison St near us.",
        PhiFamily::StreetAddress,
        "1200 W Harrison St",
    );
    assert_hit(
        "Send cards to 42 Oak Street, Apt 3B.",
        PhiFamily::StreetAddress,
        "42 Oak Street, Apt 3B",
    );
    assert_hit(
        "Mail it to PO Box 123.",
        PhiFamily::StreetAddress,
        "PO Box 123",
    );
    assert_hit(
        "Her home at 9 Cedar Court, Evanston, IL 60201 was inspected.",
        PhiFamily::StreetAddress,
        "9 Cedar Court, Evanston, IL 60201",
    );
    assert_clean("Lake Shore Drive will be closed on July 4 between Oak Street and Fullerton.");
    assert_clean(
        "The Red Cross Blood Drive collected 140 units; our 2 Drive-Thru sites close at 6.",
    );
    assert_clean("Take I-90 to the Ohio Street exit; Highway 41 Lake Shore Drive is open.");
}

#[test]
fn nine_digit_zips_are_hits_but_five_digit_zips_are_not() {
    assert_hit("Her ZIP is 60612-3456.", PhiFamily::ZipCode, "60612-3456");
    assert_clean("Residents of ZIP codes 60612, 60623 and 60608 should boil water.");
}

#[test]
fn urls_and_bare_domains_are_hits_unless_the_domain_or_a_subdomain_is_allowed() {
    assert_hit(
        "Help at https://www.gofundme.com/f/sam-park.",
        PhiFamily::Url,
        "https://www.gofundme.com/f/sam-park",
    );
    assert_hit(
        "Visit bit.ly/3xYzAbC now.",
        PhiFamily::Url,
        "bit.ly/3xYzAbC",
    );
    assert_hit(
        "Photos on caringbridge.org daily.",
        PhiFamily::Url,
        "caringbridge.org",
    );
    assert_clean("Details at https://health.example.gov/alerts and www.cdc.gov/heat.");
    assert_clean("Track air quality at https://www.airnow.cdc.gov and cdc.gov/measles.");
    assert_clean("Clinic opens at 9 a.m., e.g. on Monday; U.S. guidance applies.");
}

#[test]
fn ipv4_and_ipv6_addresses_are_hits_but_versions_and_times_are_not() {
    assert_hit(
        "Login came from 192.168.14.27.",
        PhiFamily::IpAddress,
        "192.168.14.27",
    );
    assert_hit(
        "Device 2001:db8:85a3::8a2e:370:7334 sent it.",
        PhiFamily::IpAddress,
        "2001:db8:85a3::8a2e:370:7334",
    );
    assert_clean("Version 2.1.4 fixes it; the update runs 10:30:15 to 11:00.");
    assert_clean("Section 1.2.3.4.5 of the plan and 300.1.1.1 are not addresses.");
}

#[test]
fn ages_over_89_are_hits_but_65_and_older_is_not() {
    assert_hit(
        "A 92-year-old woman was rescued.",
        PhiFamily::Age,
        "92-year-old",
    );
    assert_hit(
        "The patient, aged 95, is stable.",
        PhiFamily::Age,
        "aged 95",
    );
    assert_hit("She turned age 101 today.", PhiFamily::Age, "age 101");
    assert_hit(
        "A 90 year old man collapsed.",
        PhiFamily::Age,
        "90 year old",
    );
    assert_hit("The victim, 94, lived alone.", PhiFamily::Age, "94");
    assert_hit(
        "She is ninety-three years old.",
        PhiFamily::Age,
        "ninety-three years old",
    );
    assert_clean("Adults 65 and older, and everyone over 65, should get the vaccine.");
    assert_clean("Vaccines are for everyone ages 6 months and older; a 45-year-old may qualify.");
    assert_clean("Infants aged 90 days or younger with a fever should be seen.");
    assert_clean("Residents aged 90 and older can request a home visit.");
    assert_clean("The 100-year-old water mains are being replaced.");
}

#[test]
fn custom_patterns_are_reported_with_their_name() {
    let hits = guard().check("Badge EMP-204518 opened the door.", &[]);
    assert_eq!(
        hits,
        vec![PhiHit {
            family: PhiFamily::Custom,
            start: 6,
            end: 16,
            variable: None,
            pattern: Some("employee_badge".to_owned()),
        }]
    );
}

#[test]
fn a_hit_is_attributed_to_the_first_value_span_it_overlaps() {
    let text = "Update: patient John Smith is resting; call 312-555-0187.";
    let name_start = text.find("John").expect("present");
    let phone_start = text.find("312").expect("present");
    let values = vec![
        ValueSpan {
            variable: "patient_name".to_owned(),
            start: name_start,
            end: name_start + "John Smith".len(),
            allowed_families: vec![],
        },
        ValueSpan {
            variable: "also_the_name".to_owned(),
            start: name_start,
            end: name_start + 4,
            allowed_families: vec![],
        },
    ];
    let hits = guard().check(text, &values);
    let name = hits
        .iter()
        .find(|h| h.family == PhiFamily::Name)
        .expect("name hit");
    assert_eq!(name.variable.as_deref(), Some("patient_name"));
    let phone = hits
        .iter()
        .find(|h| h.family == PhiFamily::Phone)
        .expect("phone hit");
    assert_eq!(phone.start, phone_start);
    assert_eq!(
        phone.variable, None,
        "the phone number is in the template's own text"
    );
}

#[test]
fn a_family_allowed_in_a_value_span_is_suppressed_only_wholly_inside_it() {
    // Not "Clinic at ...": an address a venue word introduces is not a hit at all (see
    // addresses_of_public_venues_are_not_hits).
    let text = "Drop off coats at 1200 W Harrison St today. Patient lives at 42 Oak Street.";
    let clinic_start = text.find("1200").expect("present");
    let clinic = ValueSpan {
        variable: "clinic_address".to_owned(),
        start: clinic_start,
        end: clinic_start + "1200 W Harrison St".len(),
        allowed_families: vec![PhiFamily::StreetAddress],
    };
    let hits = guard().check(text, std::slice::from_ref(&clinic));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(text.get(hits[0].start..hits[0].end), Some("42 Oak Street"));

    // Allowing a different family does not suppress the address.
    let other = ValueSpan {
        allowed_families: vec![PhiFamily::Url],
        ..clinic.clone()
    };
    assert_eq!(guard().check(text, &[other]).len(), 2);

    // A span covering only part of the hit does not suppress it.
    let partial = ValueSpan {
        end: clinic.end - 3,
        ..clinic
    };
    assert_eq!(guard().check(text, &[partial]).len(), 2);
}

#[test]
fn hits_are_sorted_by_start_and_never_overlap_within_a_family() {
    let text = "Patient John Smith (DOB 03/14/1957), MRN 00123456, SSN 123-45-6789, \
                lives at 1200 W Harrison St, Chicago, IL 60612-3456; call 312-555-0187 \
                or jane@gmail.com. A 92-year-old, see https://gofundme.com/x and 10.0.0.7.";
    let hits = guard().check(text, &[]);
    assert!(
        hits.windows(2).all(|w| w[0].start <= w[1].start),
        "{hits:?}"
    );
    for family in PhiFamily::ALL {
        let mine: Vec<&PhiHit> = hits.iter().filter(|h| h.family == family).collect();
        assert!(
            mine.windows(2).all(|w| w[0].end <= w[1].start),
            "{family}: {mine:?}"
        );
    }
    let expected = [
        PhiFamily::Name,
        PhiFamily::Date,
        PhiFamily::MedicalRecordNumber,
        PhiFamily::Ssn,
        PhiFamily::StreetAddress,
        PhiFamily::ZipCode,
        PhiFamily::Phone,
        PhiFamily::Email,
        PhiFamily::Age,
        PhiFamily::Url,
        PhiFamily::IpAddress,
    ];
    for family in expected {
        assert!(
            hits.iter().any(|h| h.family == family),
            "missing {family}: {hits:?}"
        );
    }
}

#[test]
fn text_with_emoji_and_accents_is_checked_like_ascii() {
    assert_hit(
        "🚨 La paciente María Núñez fue dada de alta 😊 patient María Núñez",
        PhiFamily::Name,
        "María Núñez",
    );
    assert_hit("📞 312-555-0187 📞", PhiFamily::Phone, "312-555-0187");
    assert_clean("🔥 Calor extremo: hidrátese. Heat advisory until 8 p.m. ☀️");
}

#[test]
fn names_with_no_cue_word_are_hits_in_a_sentence_about_someones_care() {
    assert_hit(
        "So grateful to Ana Brito for letting us follow her hip surgery.",
        PhiFamily::Name,
        "Ana Brito",
    );
    assert_hit(
        "Wishing Piotr Nowak a quick recovery after his bypass.",
        PhiFamily::Name,
        "Piotr Nowak",
    );
    assert_hit(
        "J. Okafor was moved out of the ICU this afternoon.",
        PhiFamily::Name,
        "J. Okafor",
    );
    assert_hit(
        "our patient maria gonzalez is awake and asking for coffee",
        PhiFamily::Name,
        "maria gonzalez",
    );
    assert_hit(
        "UPDATE: PATIENT ROBERT HAYES IS OUT OF SURGERY",
        PhiFamily::Name,
        "ROBERT HAYES",
    );
    assert_hit(
        "Our pateint Gloria Estefan-Ruiz asked us to thank the nurses.",
        PhiFamily::Name,
        "Gloria Estefan-Ruiz",
    );
    assert_hit(
        "Deseamos una pronta recuperación a Jorge Ramírez tras su cirugía.",
        PhiFamily::Name,
        "Jorge Ramírez",
    );
}

#[test]
fn clinicians_officials_and_places_named_after_people_are_not_names_in_care_sentences() {
    assert_clean("Health Commissioner Jane Ortiz will give an update on the outbreak at 3 p.m.");
    assert_clean(
        "Dr. Ana Brito and Dr. Piotr Nowak performed the first robotic hip surgery in the county.",
    );
    assert_clean("Chief Nursing Officer Marek Kowalczyk thanked the ICU staff.");
    assert_clean("St. Vincent's and Mount Sinai have both activated their stroke protocols.");
    assert_clean("Johns Hopkins researchers found that most heat deaths happen at home.");
    assert_clean("Meet Rahul Mehta, our new infection prevention manager.");
    assert_clean("El Dr. Alvarez y su equipo terminaron la cirugía y el paciente está estable.");
}

#[test]
fn spanish_dates_and_dotted_dob_are_hits_but_spanish_event_dates_are_not() {
    assert_hit(
        "Fue dado de alta el 9 de mayo después de una semana.",
        PhiFamily::Date,
        "9 de mayo",
    );
    assert_hit(
        "Nacido el 3/4/51, el paciente llegó a urgencias.",
        PhiFamily::Date,
        "3/4/51",
    );
    assert_hit(
        "Fecha de nacimiento: 14/03/1957.",
        PhiFamily::Date,
        "14/03/1957",
    );
    assert_hit(
        "D.O.B. 02/11/1939 is on the bracelet.",
        PhiFamily::Date,
        "02/11/1939",
    );
    assert_clean("El aviso de hervir el agua emitido el 14 de julio sigue vigente.");
    assert_clean("Los niños nacidos en 2019 o después necesitan dos dosis de la vacuna.");
}

#[test]
fn identifiers_after_labels_beyond_number_and_hash_are_hits() {
    assert_hit(
        "Patient id QZ-771203 was moved to bed 4.",
        PhiFamily::MedicalRecordNumber,
        "QZ-771203",
    );
    assert_hit(
        "Case file 2024-08812 has the history.",
        PhiFamily::MedicalRecordNumber,
        "2024-08812",
    );
    assert_hit(
        "Número de expediente: 4471203.",
        PhiFamily::MedicalRecordNumber,
        "4471203",
    );
    assert_hit(
        "Billing acct 88120034 was charged twice.",
        PhiFamily::AccountNumber,
        "88120034",
    );
    assert_hit(
        "Número de afiliado: 44512309.",
        PhiFamily::HealthPlanNumber,
        "44512309",
    );
    assert_clean("Order number 77120034 for the new ventilators arrived.");
}

#[test]
fn suffixless_lowercase_and_spanish_streets_are_hits_but_venues_and_closures_are_not() {
    assert_hit(
        "She lives at 42 Maple with her two sons.",
        PhiFamily::StreetAddress,
        "42 Maple",
    );
    assert_hit(
        "found at 1837 w cullerton st by a neighbour",
        PhiFamily::StreetAddress,
        "1837 w cullerton st",
    );
    assert_hit(
        "La paciente vive en Calle Olmo 42, apartamento 3.",
        PhiFamily::StreetAddress,
        "Calle Olmo 42, apartamento 3",
    );
    assert_clean("La calle Halsted estará cerrada entre la calle 26 y la calle 31.");
    assert_clean("Road closure: 42 blocks of Maple Avenue will be repaved.");
}

#[test]
fn addresses_of_public_venues_are_not_hits() {
    assert_clean("The clinic at 1500 S Fairfield Ave will offer free mammograms on Saturday.");
    assert_hit(
        "The patient near the clinic lives at 1500 S Fairfield Ave.",
        PhiFamily::StreetAddress,
        "1500 S Fairfield Ave",
    );
}

#[test]
fn local_numbers_spaced_zips_and_ordinal_or_spanish_ages_are_hits_but_groups_are_not() {
    assert_hit(
        "Call her at 555-0199 if you have news.",
        PhiFamily::Phone,
        "555-0199",
    );
    assert_hit("Her ZIP is 606121234.", PhiFamily::ZipCode, "606121234");
    assert_hit(
        "The family is celebrating his 97th birthday.",
        PhiFamily::Age,
        "97th birthday",
    );
    assert_hit(
        "Una mujer de 92 años fue rescatada.",
        PhiFamily::Age,
        "92 años",
    );
    assert_clean("Los mayores de 90 años pueden pedir una visita en casa.");
    assert_clean("Nuestro hospital celebra 100 años de servicio a la comunidad.");
    assert_clean("The 95th annual Health Fair returns to Navy Pier.");
    assert_clean("Call 311 or text 988; toll-free 1-800-555-0177.");
}

#[test]
fn plates_and_vins_are_vehicle_identifiers_but_plate_readers_are_not() {
    assert_hit(
        "The car that hit him had Illinois plate ABC 1234.",
        PhiFamily::VehicleIdentifier,
        "ABC 1234",
    );
    assert_hit(
        "VIN 1HGCM82633A004352 was on the tow report.",
        PhiFamily::VehicleIdentifier,
        "1HGCM82633A004352",
    );
    assert_hit(
        "El auto del paciente tiene placas ABC-123-D.",
        PhiFamily::VehicleIdentifier,
        "ABC-123-D",
    );
    assert_clean("Police are using license plate readers to find the stolen ambulance.");
}

#[test]
fn one_persons_device_serial_is_a_hit_but_a_recall_range_is_not() {
    assert_hit(
        "Her pacemaker serial number is PM2210-88413.",
        PhiFamily::DeviceIdentifier,
        "PM2210-88413",
    );
    assert_hit(
        "The insulin pump, S/N 44A-77120, was returned by the family.",
        PhiFamily::DeviceIdentifier,
        "44A-77120",
    );
    assert_clean(
        "RECALL: Model X200 insulin pumps with serial numbers 44A-10000 through 44A-20000 may fail.",
    );
    assert_clean("Lot numbers 4412-B and 4413-B of the test strips are part of the recall.");
}

#[test]
fn licence_and_certificate_numbers_are_hits_but_a_business_licence_is_not() {
    assert_hit(
        "His driver's license number is D123-4567-8901.",
        PhiFamily::LicenseNumber,
        "D123-4567-8901",
    );
    assert_hit(
        "Death certificate no. 114-2023-00432 was attached.",
        PhiFamily::LicenseNumber,
        "114-2023-00432",
    );
    assert_hit(
        "Licencia de conducir: G12-3456-7890.",
        PhiFamily::LicenseNumber,
        "G12-3456-7890",
    );
    assert_clean("Food establishment license 2024-1178 for the restaurant was suspended.");
    assert_clean("Certificate of Need 24-017 for the new hospital was approved.");
}

#[test]
fn a_persons_biometric_is_a_hit_but_policies_exams_and_pathogen_dna_are_not() {
    assert_hit(
        "We accidentally posted a photo of his fingerprints from the ID form.",
        PhiFamily::Biometric,
        "fingerprints",
    );
    assert_hit(
        "El perfil de ADN de la paciente se envió por error.",
        PhiFamily::Biometric,
        "perfil de ADN",
    );
    assert_clean("We never use facial recognition at our clinics.");
    assert_clean("Free diabetic eye exams with retinal scans are offered every Tuesday.");
    assert_clean("The outbreak strain's genetic fingerprint matched cases in two states.");
}

#[test]
fn e_mail_addresses_written_to_dodge_filters_are_hits() {
    assert_hit(
        "Send condolences to jane.doe [at] gmail [dot] com.",
        PhiFamily::Email,
        "jane.doe [at] gmail [dot] com",
    );
    assert_clean("Find us at cdc.gov or health.example.gov.");
}

proptest! {
    #[test]
    fn check_never_panics_and_returns_in_bounds_char_boundary_spans(text in any::<String>()) {
        for hit in guard().check(&text, &[]) {
            prop_assert!(hit.start < hit.end && hit.end <= text.len());
            prop_assert!(text.is_char_boundary(hit.start) && text.is_char_boundary(hit.end));
        }
    }

    #[test]
    fn check_never_panics_on_alert_like_text(
        text in r"([A-Z][a-z]{1,8}|[0-9]{1,6}|[ .,:;@/#+()'\-]|Mr\.|patient|DOB|MRN|fax|born|aged|St|www\.|\.gov|é|😊|plate|serial|S/N|license|fingerprints|his|calle|paciente|años|de|D\.O\.B\.|surgery|[A-Z]{3}|J\.|\[at\]|dot){0,60}"
    ) {
        let values = [ValueSpan { variable: "v".to_owned(), start: 0, end: text.len() / 2, allowed_families: vec![PhiFamily::Name] }];
        for hit in guard().check(&text, &values) {
            prop_assert!(hit.start < hit.end && hit.end <= text.len());
            prop_assert!(text.is_char_boundary(hit.start) && text.is_char_boundary(hit.end));
        }
    }
}

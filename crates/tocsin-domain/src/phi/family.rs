//! The identifier families the PHI guard reports: the HIPAA Safe Harbor identifiers that
//! message text can carry, plus `Custom` for patterns an organisation adds itself.
//! The snake_case names are the stable spelling used in tocsin.toml, playbooks
//! (`allowed_families`), audit records and the control panel.

use std::fmt;
use std::str::FromStr;

/// One family of identifiers the guard looks for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PhiFamily {
    /// A person's name in patient context ("patient John Smith", "Mrs. Garcia").
    Name,
    /// A date tied to a person: birth, admission, discharge, death, service.
    Date,
    /// A telephone number.
    Phone,
    /// A fax number (a phone number in fax context).
    Fax,
    /// An email address.
    Email,
    /// A Social Security number.
    Ssn,
    /// A medical record number.
    MedicalRecordNumber,
    /// A health plan, member, policy or beneficiary number.
    HealthPlanNumber,
    /// An account number.
    AccountNumber,
    /// A street address or PO box.
    StreetAddress,
    /// A full nine-digit ZIP code (ZIP+4).
    ZipCode,
    /// A URL or bare domain outside the organisation's allowed domains.
    Url,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An age over 89.
    Age,
    /// A vehicle identifier: a licence plate or a VIN.
    VehicleIdentifier,
    /// A medical device's serial or lot number (pacemaker, pump, implant, CPAP).
    DeviceIdentifier,
    /// A driver's or professional licence number, or a certificate number (birth, death).
    LicenseNumber,
    /// A biometric identifier: fingerprints, retina or iris scans, voiceprints, DNA
    /// profiles, face recognition of an identifiable person.
    Biometric,
    /// A match of an organisation-defined pattern.
    Custom,
}

impl PhiFamily {
    /// Every family, in declaration order.
    pub const ALL: [PhiFamily; 19] = [
        PhiFamily::Name,
        PhiFamily::Date,
        PhiFamily::Phone,
        PhiFamily::Fax,
        PhiFamily::Email,
        PhiFamily::Ssn,
        PhiFamily::MedicalRecordNumber,
        PhiFamily::HealthPlanNumber,
        PhiFamily::AccountNumber,
        PhiFamily::StreetAddress,
        PhiFamily::ZipCode,
        PhiFamily::Url,
        PhiFamily::IpAddress,
        PhiFamily::Age,
        PhiFamily::VehicleIdentifier,
        PhiFamily::DeviceIdentifier,
        PhiFamily::LicenseNumber,
        PhiFamily::Biometric,
        PhiFamily::Custom,
    ];

    /// The snake_case name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PhiFamily::Name => "name",
            PhiFamily::Date => "date",
            PhiFamily::Phone => "phone",
            PhiFamily::Fax => "fax",
            PhiFamily::Email => "email",
            PhiFamily::Ssn => "ssn",
            PhiFamily::MedicalRecordNumber => "medical_record_number",
            PhiFamily::HealthPlanNumber => "health_plan_number",
            PhiFamily::AccountNumber => "account_number",
            PhiFamily::StreetAddress => "street_address",
            PhiFamily::ZipCode => "zip_code",
            PhiFamily::Url => "url",
            PhiFamily::IpAddress => "ip_address",
            PhiFamily::Age => "age",
            PhiFamily::VehicleIdentifier => "vehicle_identifier",
            PhiFamily::DeviceIdentifier => "device_identifier",
            PhiFamily::LicenseNumber => "license_number",
            PhiFamily::Biometric => "biometric",
            PhiFamily::Custom => "custom",
        }
    }

    /// A short human description, for warnings shown to drafters and approvers.
    pub fn description(self) -> &'static str {
        match self {
            PhiFamily::Name => "a person's name in patient context",
            PhiFamily::Date => {
                "a date tied to a person (birth, admission, discharge, death, service)"
            }
            PhiFamily::Phone => "a telephone number",
            PhiFamily::Fax => "a fax number",
            PhiFamily::Email => "an email address",
            PhiFamily::Ssn => "a Social Security number",
            PhiFamily::MedicalRecordNumber => "a medical record number",
            PhiFamily::HealthPlanNumber => "a health plan, member or beneficiary number",
            PhiFamily::AccountNumber => "an account number",
            PhiFamily::StreetAddress => "a street address or PO box",
            PhiFamily::ZipCode => "a full nine-digit ZIP code",
            PhiFamily::Url => "a URL outside the organisation's allowed domains",
            PhiFamily::IpAddress => "an IP address",
            PhiFamily::Age => "an age over 89",
            PhiFamily::VehicleIdentifier => "a vehicle identifier (licence plate or VIN)",
            PhiFamily::DeviceIdentifier => "a medical device's serial or lot number",
            PhiFamily::LicenseNumber => "a licence or certificate number",
            PhiFamily::Biometric => {
                "a biometric identifier (fingerprint, retina or iris scan, voiceprint, DNA profile, face)"
            }
            PhiFamily::Custom => "a match of an organisation-defined pattern",
        }
    }
}

impl fmt::Display for PhiFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`PhiFamily`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown PHI family `{0}` (expected one of: name, date, phone, fax, email, ssn, medical_record_number, health_plan_number, account_number, street_address, zip_code, url, ip_address, age, vehicle_identifier, device_identifier, license_number, biometric, custom)")]
pub struct UnknownPhiFamily(pub String);

impl FromStr for PhiFamily {
    type Err = UnknownPhiFamily;

    /// Accepts the snake_case names ([`PhiFamily::as_str`]), ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        PhiFamily::ALL
            .iter()
            .copied()
            .find(|family| family.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownPhiFamily(s.to_owned()))
    }
}

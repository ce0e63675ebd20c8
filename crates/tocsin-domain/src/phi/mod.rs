//! The PHI guard: before a message may be approved, its rendered text is checked for the
//! HIPAA Safe Harbor identifier families that text can carry ([`PhiFamily`]).
//!
//! [`PhiGuard::new`] compiles every detector once from the organisation's [`PhiConfig`].
//! [`PhiGuard::check`] walks the text once to find trigger points (digit runs, keywords,
//! `@`, a `.` before a top-level domain), runs only the detectors those can start, on small
//! windows around them, drops what the organisation or the playbook allows, and attributes
//! each remaining hit to the variable whose value it overlaps. Detection is heuristic and
//! leans towards flagging: a hit blocks approval until an approver overrides it.
//!
//! Layout: `family` names what is found, `config` what the organisation allows, `scan` is
//! the trigger pass (`spanish` holds its Spanish cue words), `detectors` the shaped and
//! keyword-anchored identifiers, with `streets`, `ages`, `vehicle`, `device`, `license`
//! and `biometric` for the forms and families each names, `names` the person-name
//! heuristics, `text` the look-around helpers; `corpus/` holds the labelled tuning
//! sentences `corpus_tests` measures, and `corpus/heldout/` the held-out ones that
//! `heldout_tests` measures without ever printing them.

mod ages;
mod biometric;
mod config;
mod detectors;
mod device;
mod family;
mod license;
mod names;
mod scan;
mod spanish;
mod streets;
mod text;
mod vehicle;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod heldout_tests;
#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use regex::Regex;

pub use config::{CustomPattern, PhiConfig, PhiConfigError};
pub use family::{PhiFamily, UnknownPhiFamily};

use config::{normalise_domain, phone_digits};
use detectors::{Detectors, RawHit};
use names::NameDetector;

/// Where a variable's value landed in the rendered text (computed by the renderer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSpan {
    /// The playbook variable's name.
    pub variable: String,
    /// Byte offset where the value starts in the rendered text.
    pub start: usize,
    /// Byte offset just past the value's end.
    pub end: usize,
    /// families the playbook declared acceptable inside this variable's value (e.g. a public clinic street address)
    pub allowed_families: Vec<PhiFamily>,
}

/// One identifier found in checked text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhiHit {
    /// What kind of identifier it is.
    pub family: PhiFamily,
    /// byte offsets into the checked text
    pub start: usize,
    /// Byte offset just past the hit's end.
    pub end: usize,
    /// the variable whose value the hit overlaps, None if it came from the template's own text
    pub variable: Option<String>,
    /// for Custom hits, the pattern's name
    pub pattern: Option<String>,
}

/// The compiled checker. Build it once per configuration; cloning is an `Arc` bump and it
/// is `Send + Sync`, so one guard serves every request and thread.
#[derive(Clone)]
pub struct PhiGuard {
    inner: Arc<GuardInner>,
}

struct GuardInner {
    detectors: Detectors,
    names: NameDetector,
    custom: Vec<(String, Regex)>,
}

impl fmt::Debug for PhiGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhiGuard")
            .field(
                "custom_patterns",
                &self
                    .inner
                    .custom
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl PhiGuard {
    /// Validates `config` and compiles every detector.
    pub fn new(config: &PhiConfig) -> Result<PhiGuard, PhiConfigError> {
        let allowed_domains = config
            .allowed_domains
            .iter()
            .map(|raw| {
                normalise_domain(raw).ok_or_else(|| PhiConfigError::InvalidAllowedDomain {
                    domain: raw.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let allowed_phones = config
            .allowed_phone_numbers
            .iter()
            .map(|raw| {
                let digits = phone_digits(raw);
                if digits.is_empty() {
                    Err(PhiConfigError::InvalidAllowedPhoneNumber {
                        number: raw.clone(),
                    })
                } else {
                    Ok(digits)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut custom = Vec::with_capacity(config.custom_patterns.len());
        for pattern in &config.custom_patterns {
            if pattern.name.trim().is_empty() {
                return Err(PhiConfigError::UnnamedPattern {
                    regex: pattern.regex.clone(),
                });
            }
            let regex = Regex::new(&pattern.regex).map_err(|e| PhiConfigError::InvalidPattern {
                name: pattern.name.clone(),
                reason: e.to_string(),
            })?;
            if regex.is_match("") {
                return Err(PhiConfigError::EmptyMatchPattern {
                    name: pattern.name.clone(),
                });
            }
            custom.push((pattern.name.clone(), regex));
        }
        // The built-in patterns are constants covered by every test; a failure here is a bug,
        // reported under a recognisable name rather than a panic.
        let builtin = |e: regex::Error| PhiConfigError::InvalidPattern {
            name: "built-in".to_owned(),
            reason: e.to_string(),
        };
        Ok(PhiGuard {
            inner: Arc::new(GuardInner {
                detectors: Detectors::new(allowed_domains, allowed_phones).map_err(builtin)?,
                names: NameDetector::new().map_err(builtin)?,
                custom,
            }),
        })
    }

    /// All hits in `text`, sorted by start, non-overlapping within a family. A hit lying wholly inside a ValueSpan whose allowed_families contains the hit's family is not reported.
    ///
    /// `variable` is the variable of the first span in `values` that overlaps the hit.
    pub fn check(&self, text: &str, values: &[ValueSpan]) -> Vec<PhiHit> {
        self.check_with_spans(text, || values.to_vec())
    }

    /// [`PhiGuard::check`], with the value spans asked for only when the text has a hit
    /// (finding where each value lies in a text costs more than most scans).
    pub fn check_with_spans(
        &self,
        text: &str,
        values: impl FnOnce() -> Vec<ValueSpan>,
    ) -> Vec<PhiHit> {
        let inner = &*self.inner;
        let mut raw: Vec<RawHit> = Vec::new();
        scan::scan(&inner.detectors, &inner.names, text, &mut raw);
        for (index, (_, regex)) in inner.custom.iter().enumerate() {
            for m in regex.find_iter(text) {
                if !m.is_empty() {
                    raw.push(RawHit {
                        family: PhiFamily::Custom,
                        start: m.start(),
                        end: m.end(),
                        pattern: Some(index),
                    });
                }
            }
        }
        if raw.is_empty() {
            return Vec::new();
        }
        let values = values();

        // Union overlapping hits of one family so each identifier is reported once.
        raw.sort_unstable_by_key(|h| (h.family, h.start, h.end));
        let mut merged: Vec<RawHit> = Vec::with_capacity(raw.len());
        for hit in raw {
            match merged.last_mut() {
                Some(last) if last.family == hit.family && hit.start < last.end => {
                    last.end = last.end.max(hit.end);
                }
                _ => merged.push(hit),
            }
        }
        merged.retain(|hit| {
            !values.iter().any(|v| {
                v.start <= hit.start && hit.end <= v.end && v.allowed_families.contains(&hit.family)
            })
        });
        merged.sort_unstable_by_key(|h| (h.start, h.family, h.end));
        merged
            .into_iter()
            .map(|hit| PhiHit {
                family: hit.family,
                start: hit.start,
                end: hit.end,
                variable: values
                    .iter()
                    .find(|v| v.start < hit.end && hit.start < v.end)
                    .map(|v| v.variable.clone()),
                pattern: hit
                    .pattern
                    .and_then(|i| inner.custom.get(i))
                    .map(|(name, _)| name.clone()),
            })
            .collect()
    }
}

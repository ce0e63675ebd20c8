//! Passwords: the policy a new one must meet, argon2id hashing with the ASVS parameters
//! (m = 19 MiB, t = 2, p = 1), and verification that costs the same for an unknown user
//! (checked against a dummy hash) as for a wrong password.
//!
//! Hashing is CPU work of tens of milliseconds; async callers run it on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret as _, SecretString};

/// The shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 12;
/// The longest password accepted, in characters (longer ones are refused, not cut).
pub const MAX_LENGTH: usize = 128;

const COMMON: &str = include_str!("common_passwords.txt");

/// Why a new password was refused; the message is meant for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Shorter than [`MIN_LENGTH`].
    #[error("the password is too short: use at least {MIN_LENGTH} characters (a few unrelated words work well)")]
    TooShort,
    /// Longer than [`MAX_LENGTH`].
    #[error("the password is too long: use at most {MAX_LENGTH} characters")]
    TooLong,
    /// On the embedded list of most common passwords.
    #[error(
        "the password is one of the most common passwords and is guessed first: choose another"
    )]
    Common,
    /// The same as the user name.
    #[error("the password must not be the user name")]
    SameAsName,
    /// The same as the password it replaces.
    #[error("the new password is the same as the current one: choose another")]
    SameAsCurrent,
}

/// Hashing failed (bad parameters, or a stored hash that does not parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl PasswordCost {
    /// OWASP ASVS / OWASP cheat sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    pub const ASVS: PasswordCost = PasswordCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// A cheap cost for tests only, so story tests don't spend seconds per hash in debug
    /// builds; never use it in a server.
    pub const TESTS_ONLY: PasswordCost = PasswordCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost::ASVS
    }
}

/// Checks a new password against the policy.
pub fn check_policy(password: &str, user_name: &str) -> Result<(), PasswordPolicyError> {
    let length = password.chars().count();
    if length > MAX_LENGTH {
        return Err(PasswordPolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return Err(PasswordPolicyError::Common);
    }
    if length < MIN_LENGTH {
        return Err(PasswordPolicyError::TooShort);
    }
    if lower == user_name.to_lowercase() {
        return Err(PasswordPolicyError::SameAsName);
    }
    Ok(())
}

/// The embedded list of common passwords (see `common_passwords.txt` for its source).
fn common_passwords() -> impl Iterator<Item = &'static str> {
    COMMON
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Whether a lowercased password is on the list, or is one of them with digits or
/// punctuation added at the end ("iloveyou2026!"), the commonest way people lengthen one.
fn is_common(lower: &str) -> bool {
    let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    common_passwords().any(|common| {
        common == lower
            || (base.len() != lower.len() && base.chars().count() >= 5 && common == base)
    })
}

/// Hashes and verifies passwords with one set of argon2id parameters.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password with the same parameters, verified against when the
    /// user does not exist, so that answer costs the same as a wrong password.
    dummy_hash: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// Hashing with these costs (computes the dummy hash once).
    pub fn new(cost: PasswordCost) -> Result<Passwords, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let mut passwords = Passwords {
            params,
            dummy_hash: String::new(),
        };
        let random: String = {
            use rand::Rng as _;
            rand::rngs::OsRng
                .sample_iter(&rand::distributions::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        };
        passwords.dummy_hash = passwords.hash_unchecked(&random)?;
        Ok(passwords)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a new password after checking it against the policy.
    pub fn hash_new(
        &self,
        password: &SecretString,
        user_name: &str,
    ) -> Result<String, NewPasswordError> {
        check_policy(password.expose_secret(), user_name)?;
        Ok(self.hash_unchecked(password.expose_secret())?)
    }

    fn hash_unchecked(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user) it checks
    /// against the dummy hash and answers false, taking the same time.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        // Over-long input is refused after the same work, so length does not show.
        let password = if password.chars().count() > MAX_LENGTH {
            ""
        } else {
            password
        };
        let ok = match PasswordHash::new(hash) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                tracing::error!("a stored password hash does not parse");
                false
            }
        };
        ok && real && !password.is_empty()
    }
}

/// Why a new password could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NewPasswordError {
    /// The policy refused it.
    #[error(transparent)]
    Policy(#[from] PasswordPolicyError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(PasswordCost::TESTS_ONLY).unwrap()
    }

    #[test]
    fn the_default_cost_is_argon2id_with_19_mib_two_passes_and_one_lane() {
        assert_eq!(
            PasswordCost::default(),
            PasswordCost {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn a_hash_with_the_default_cost_says_argon2id_m19456_t2_p1_and_verifies() {
        let p = Passwords::new(PasswordCost::ASVS).unwrap();
        let hash = p
            .hash_new(&SecretString::from("correct horse battery"), "ana")
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(p.verify("correct horse battery", Some(&hash)));
        assert!(!p.verify("correct horse batterz", Some(&hash)));
    }

    #[test]
    fn an_unknown_user_is_checked_against_the_dummy_hash_and_never_matches() {
        let p = cheap();
        assert!(!p.verify("", None));
        assert!(!p.verify("anything at all here", None));
    }

    #[test]
    fn short_long_common_and_name_equal_passwords_are_refused_with_a_clear_message() {
        assert_eq!(
            check_policy("short", "ana"),
            Err(PasswordPolicyError::TooShort)
        );
        assert_eq!(
            check_policy(&"x".repeat(129), "ana"),
            Err(PasswordPolicyError::TooLong)
        );
        assert_eq!(
            check_policy("PASSWORD1234", "ana"),
            Err(PasswordPolicyError::Common)
        );
        assert_eq!(
            check_policy("password", "ana"),
            Err(PasswordPolicyError::Common)
        );
        assert_eq!(
            check_policy("ana.lopez.health", "Ana.Lopez.Health"),
            Err(PasswordPolicyError::SameAsName)
        );
        assert!(PasswordPolicyError::TooShort
            .to_string()
            .contains("at least 12"));
        assert!(PasswordPolicyError::Common
            .to_string()
            .contains("most common"));
        assert_eq!(check_policy("boil water notice 2026", "ana"), Ok(()));
        assert_eq!(check_policy(&"é".repeat(128), "ana"), Ok(()));
    }

    #[test]
    fn the_embedded_list_holds_thirty_thousand_common_passwords() {
        assert_eq!(common_passwords().count(), 30_000);
        assert!(common_passwords().all(|p| p == p.to_lowercase()));
    }

    #[test]
    fn a_long_common_password_or_one_lengthened_with_digits_is_refused() {
        // Twelve characters and more, and still among the most guessed.
        assert_eq!(
            check_policy("1qaz2wsx3edc", "ana"),
            Err(PasswordPolicyError::Common)
        );
        assert_eq!(
            check_policy("Sunshine2026!!", "ana"),
            Err(PasswordPolicyError::Common)
        );
        assert_eq!(check_policy("sunshine over the harbour", "ana"), Ok(()));
    }

    #[test]
    fn a_new_password_is_checked_before_it_is_hashed() {
        let err = cheap()
            .hash_new(&SecretString::from("letmein"), "ana")
            .unwrap_err();
        assert_eq!(err, NewPasswordError::Policy(PasswordPolicyError::Common));
    }

    #[test]
    fn an_over_long_attempt_never_matches_even_against_its_own_hash() {
        let p = cheap();
        let long = "y".repeat(200);
        let hash = p.hash_unchecked(&long).unwrap();
        assert!(!p.verify(&long, Some(&hash)));
    }
}

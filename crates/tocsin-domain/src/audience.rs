//! Who hears a message: account groups, a draft's target set, and how a target set
//! resolves against the accounts connected now.
//!
//! A playbook names its default audience (groups); the drafter may remove groups or
//! accounts, or add some outside the audience, which the approver must then confirm.
//! [`resolve`] turns a [`TargetSpec`] into the accounts it reaches, the count per
//! platform, and the accounts outside the playbook's audience. Pure: the caller reads
//! the accounts.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::Platform;

/// Whether `name` is a valid group name: the same rule as playbook ids (lowercase
/// letters, digits and dashes, not starting with a dash).
pub fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// Checks a list of group names, returning them sorted without repeats, or the first
/// bad one in words.
pub fn check_group_names<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>, String> {
    let mut out = BTreeSet::new();
    for name in names {
        let name = name.as_ref().trim();
        if !is_group_name(name) {
            return Err(format!(
                "group name `{name}` must be lowercase letters, digits and dashes (like a playbook id)"
            ));
        }
        out.insert(name.to_string());
    }
    Ok(out.into_iter().collect())
}

/// The accounts a message is meant for, as the drafter chose them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Every connected account, whatever its groups (a playbook without `audience`).
    #[serde(default)]
    pub everyone: bool,
    /// Groups whose accounts get the message.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Accounts left out although a chosen group has them.
    #[serde(default)]
    pub exclude_accounts: Vec<i64>,
    /// Accounts added although no chosen group has them.
    #[serde(default)]
    pub include_accounts: Vec<i64>,
}

impl TargetSpec {
    /// The default target set for an audience: its groups, or every account when the
    /// audience is empty.
    pub fn for_audience(audience: &[String]) -> TargetSpec {
        TargetSpec {
            everyone: audience.is_empty(),
            groups: audience.to_vec(),
            exclude_accounts: Vec::new(),
            include_accounts: Vec::new(),
        }
    }

    /// Sorted, without repeats (so equal choices hash equal).
    pub fn normalized(mut self) -> TargetSpec {
        self.groups.sort();
        self.groups.dedup();
        self.exclude_accounts.sort_unstable();
        self.exclude_accounts.dedup();
        self.include_accounts.sort_unstable();
        self.include_accounts.dedup();
        self
    }

    /// Whether the set reaches the accounts of group `name` (or every account).
    pub fn includes_group(&self, name: &str) -> bool {
        self.everyone || self.groups.iter().any(|g| g == name)
    }
}

/// What [`resolve`] needs of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFacts {
    /// The account.
    pub id: i64,
    /// The platform whose text it gets.
    pub platform: Platform,
    /// Its groups.
    pub groups: Vec<String>,
    /// A sandbox account.
    pub sandbox: bool,
    /// In fan-out now (connected, with a working connector).
    pub usable: bool,
}

/// Why a target set cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A group name that is not a group.
    #[error("`{name}` is not a group: no account has it and no playbook names it")]
    UnknownGroup {
        /// The field, `targets.groups`.
        field: &'static str,
        /// The name.
        name: String,
    },
    /// A group name that breaks the rule.
    #[error("{0}")]
    BadGroupName(String),
    /// An account to add that is unknown, not in fan-out, or (for an exercise) real.
    #[error("account {id} cannot be added: {why}")]
    BadAccount {
        /// The field, `targets.include_accounts` or `targets.exclude_accounts`.
        field: &'static str,
        /// The account.
        id: i64,
        /// Why.
        why: &'static str,
    },
    /// Nothing left.
    #[error("the target set is empty: choose at least one group or account that is connected{}", if *.exercise { " (an exercise goes only to sandbox accounts)" } else { "" })]
    Empty {
        /// An exercise.
        exercise: bool,
    },
}

impl TargetError {
    /// The request field to name.
    pub fn field(&self) -> &'static str {
        match self {
            TargetError::UnknownGroup { field, .. } => field,
            TargetError::BadGroupName(_) => "targets.groups",
            TargetError::BadAccount { field, .. } => field,
            TargetError::Empty { .. } => "targets",
        }
    }
}

/// A target set resolved against the accounts now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The accounts it reaches, by id.
    pub accounts: Vec<i64>,
    /// How many accounts per platform (by the platform whose text they get).
    pub per_platform: BTreeMap<Platform, usize>,
    /// The accounts it reaches that are outside the playbook's audience (the approver
    /// must confirm these).
    pub outside_audience: Vec<i64>,
    /// The chosen groups that are outside the playbook's audience.
    pub groups_outside_audience: Vec<String>,
}

impl Resolved {
    /// The platforms the set reaches, in order.
    pub fn platforms(&self) -> Vec<Platform> {
        self.per_platform.keys().copied().collect()
    }

    /// `mastodon:2, sms:1`: the count per platform in words, for the audit log.
    pub fn counts_text(&self) -> String {
        self.per_platform
            .iter()
            .map(|(p, n)| format!("{}:{n}", p.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Resolves `spec` against `accounts`: the usable accounts in a chosen group (every
/// usable account for `everyone`), plus the ones included, less the ones excluded; only
/// sandbox accounts for an exercise. `known_groups` are the names that exist (on some
/// account or in some playbook); `audience` is the playbook's (empty: everyone).
pub fn resolve(
    spec: &TargetSpec,
    accounts: &[AccountFacts],
    known_groups: &BTreeSet<String>,
    audience: &[String],
    exercise: bool,
) -> Result<Resolved, TargetError> {
    check_group_names(&spec.groups).map_err(TargetError::BadGroupName)?;
    for g in &spec.groups {
        if !known_groups.contains(g) {
            return Err(TargetError::UnknownGroup {
                field: "targets.groups",
                name: g.clone(),
            });
        }
    }
    let eligible = |a: &&AccountFacts| a.usable && (a.sandbox || !exercise);
    for (field, ids) in [
        ("targets.include_accounts", &spec.include_accounts),
        ("targets.exclude_accounts", &spec.exclude_accounts),
    ] {
        for id in ids {
            match accounts.iter().find(|a| a.id == *id) {
                None => {
                    return Err(TargetError::BadAccount {
                        field,
                        id: *id,
                        why: "there is no such account",
                    })
                }
                Some(a) if field == "targets.include_accounts" && !a.usable => {
                    return Err(TargetError::BadAccount {
                        field,
                        id: *id,
                        why: "it is not connected",
                    })
                }
                Some(a) if field == "targets.include_accounts" && exercise && !a.sandbox => {
                    return Err(TargetError::BadAccount {
                        field,
                        id: *id,
                        why: "an exercise goes only to sandbox accounts",
                    })
                }
                Some(_) => {}
            }
        }
    }
    let in_groups =
        |a: &AccountFacts, groups: &[String]| a.groups.iter().any(|g| groups.contains(g));
    let mut out = Resolved::default();
    for a in accounts.iter().filter(eligible) {
        let chosen =
            spec.everyone || in_groups(a, &spec.groups) || spec.include_accounts.contains(&a.id);
        if !chosen || spec.exclude_accounts.contains(&a.id) {
            continue;
        }
        out.accounts.push(a.id);
        *out.per_platform.entry(a.platform).or_insert(0) += 1;
        if !audience.is_empty() && !in_groups(a, audience) {
            out.outside_audience.push(a.id);
        }
    }
    out.accounts.sort_unstable();
    out.outside_audience.sort_unstable();
    if !audience.is_empty() {
        out.groups_outside_audience = spec
            .groups
            .iter()
            .filter(|g| !audience.contains(g))
            .cloned()
            .collect();
    }
    if out.accounts.is_empty() {
        return Err(TargetError::Empty { exercise });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, platform: Platform, groups: &[&str], sandbox: bool) -> AccountFacts {
        AccountFacts {
            id,
            platform,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            sandbox,
            usable: true,
        }
    }

    fn known(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn fleet() -> Vec<AccountFacts> {
        vec![
            account(1, Platform::Mastodon, &["public"], false),
            account(2, Platform::X, &["public"], false),
            account(3, Platform::Sms, &["residents-sms"], false),
            account(4, Platform::Slack, &["staff"], false),
            account(5, Platform::Sandbox, &["public"], true),
        ]
    }

    fn groups(names: &[&str]) -> TargetSpec {
        TargetSpec {
            groups: names.iter().map(|n| n.to_string()).collect(),
            ..TargetSpec::default()
        }
    }

    #[test]
    fn group_names_follow_the_playbook_id_rule() {
        assert!(is_group_name("residents-sms"));
        assert!(is_group_name("eoc2"));
        assert!(!is_group_name("Public"));
        assert!(!is_group_name("-x"));
        assert!(!is_group_name(""));
        assert!(!is_group_name("a b"));
        assert_eq!(
            check_group_names(&["staff", "public", "staff"]).unwrap(),
            vec!["public".to_string(), "staff".to_string()]
        );
        assert!(check_group_names(&["ok", "Not_ok"])
            .unwrap_err()
            .contains("Not_ok"));
    }

    #[test]
    fn a_public_audience_reaches_the_public_accounts_and_not_the_sms_list() {
        let audience = vec!["public".to_string()];
        let r = resolve(
            &TargetSpec::for_audience(&audience),
            &fleet(),
            &known(&["public", "residents-sms", "staff"]),
            &audience,
            false,
        )
        .unwrap();
        assert_eq!(r.accounts, vec![1, 2, 5]);
        assert!(r.outside_audience.is_empty());
        assert_eq!(r.per_platform.get(&Platform::Sms), None);
        assert_eq!(r.per_platform.get(&Platform::Mastodon), Some(&1));
    }

    #[test]
    fn an_exercise_reaches_only_the_sandbox_accounts_of_the_groups() {
        let audience = vec!["public".to_string()];
        let r = resolve(
            &groups(&["public"]),
            &fleet(),
            &known(&["public"]),
            &audience,
            true,
        )
        .unwrap();
        assert_eq!(r.accounts, vec![5]);
        let err =
            resolve(&groups(&["staff"]), &fleet(), &known(&["staff"]), &[], true).unwrap_err();
        assert!(err.to_string().contains("sandbox"), "{err}");
    }

    #[test]
    fn removing_and_adding_accounts_and_what_is_outside_the_audience() {
        let audience = vec!["public".to_string()];
        let spec = TargetSpec {
            groups: vec!["public".into()],
            exclude_accounts: vec![2],
            include_accounts: vec![4],
            everyone: false,
        };
        let r = resolve(&spec, &fleet(), &known(&["public"]), &audience, false).unwrap();
        assert_eq!(r.accounts, vec![1, 4, 5]);
        assert_eq!(r.outside_audience, vec![4]);
        let wider = resolve(
            &groups(&["public", "staff"]),
            &fleet(),
            &known(&["public", "staff"]),
            &audience,
            false,
        )
        .unwrap();
        assert_eq!(wider.groups_outside_audience, vec!["staff".to_string()]);
        assert_eq!(wider.outside_audience, vec![4]);
    }

    #[test]
    fn unknown_groups_bad_accounts_and_empty_sets_are_refused_naming_the_field() {
        let known = known(&["public", "empty-now"]);
        let e = resolve(&groups(&["nope"]), &fleet(), &known, &[], false).unwrap_err();
        assert_eq!(e.field(), "targets.groups");
        assert!(e.to_string().contains("`nope`"));
        let e = resolve(&groups(&["BAD"]), &fleet(), &known, &[], false).unwrap_err();
        assert_eq!(e.field(), "targets.groups");
        let spec = TargetSpec {
            include_accounts: vec![99],
            ..groups(&["public"])
        };
        let e = resolve(&spec, &fleet(), &known, &[], false).unwrap_err();
        assert_eq!(e.field(), "targets.include_accounts");
        // A known group nobody has any more is empty, not an error, but a set with
        // nothing else in it cannot be used.
        let e = resolve(&groups(&["empty-now"]), &fleet(), &known, &[], false).unwrap_err();
        assert_eq!(e, TargetError::Empty { exercise: false });
        assert!(e.to_string().contains("empty"));
    }

    #[test]
    fn everyone_reaches_every_usable_account_and_disabled_ones_never() {
        let mut accounts = fleet();
        accounts[1].usable = false;
        let r = resolve(
            &TargetSpec::for_audience(&[]),
            &accounts,
            &BTreeSet::new(),
            &[],
            false,
        )
        .unwrap();
        assert_eq!(r.accounts, vec![1, 3, 4, 5]);
        assert_eq!(r.counts_text(), "mastodon:1, slack:1, sms:1, sandbox:1");
    }
}

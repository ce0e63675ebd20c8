//! Who a drill reaches: the playbook step's audience (or the groups given with
//! `--group`), resolved against the accounts connected now, as an approved message
//! would be, then moved onto sandbox accounts so that nobody real is reached.
//!
//! Sandbox accounts in the chosen groups are the rehearsal's target set when there are
//! any (an admin put them there to mirror the real set). Otherwise the drill stands in
//! for the platforms the real target set reaches, one sandbox account each; when the
//! groups reach no account at all (a fresh install), it stands in for every platform
//! and says so.

use anyhow::{bail, Result};
use std::collections::BTreeSet;
use tocsin_domain::audience::{resolve, AccountFacts, TargetError, TargetSpec};
use tocsin_domain::Platform;
use tocsin_store::{Account, AccountStatus};

/// Where a drill's posts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DrillReach {
    /// Sandbox accounts already in the chosen groups, by id, with the platform whose
    /// text each gets.
    SandboxAccounts(Vec<(i64, Platform)>),
    /// One drill stand-in per platform the real target set reaches.
    StandIns(Vec<Platform>),
    /// The groups reach no account: one stand-in for every platform.
    Everywhere,
}

/// The target set a drill uses: the groups given, else the step's audience (every
/// account when the playbook names none).
pub(crate) fn spec_for(groups: &[String], audience: &[String]) -> TargetSpec {
    if groups.is_empty() {
        TargetSpec::for_audience(audience)
    } else {
        TargetSpec::for_audience(groups)
    }
    .normalized()
}

/// Resolves `spec` over `accounts` (the drill's own stand-ins, `is_stand_in`, left
/// out): what the drill reaches. `known_groups` are the group names that exist (on an
/// account or in a playbook); a group outside them is refused, naming `--group`.
pub(crate) fn reach(
    spec: &TargetSpec,
    accounts: &[Account],
    known_groups: &BTreeSet<String>,
    audience: &[String],
    is_stand_in: &dyn Fn(&Account) -> bool,
) -> Result<DrillReach> {
    let facts: Vec<AccountFacts> = accounts
        .iter()
        .filter(|a| !is_stand_in(a))
        .map(|a| tocsin_app::catalog::account_facts(a, a.status != AccountStatus::Disabled))
        .collect();
    let resolved = |exercise: bool| {
        match resolve(spec, &facts, known_groups, audience, exercise)
    {
        Ok(r) => Ok(Some(r)),
        Err(TargetError::Empty { .. }) => Ok(None),
        Err(TargetError::UnknownGroup { name, .. }) => bail!(
            "--group {name}: no account has that group and no playbook names it (see `tocsin accounts list`)"
        ),
        Err(e) => bail!("{e}"),
    }
    };
    if let Some(sandbox) = resolved(true)? {
        let platform_of = |id: i64| facts.iter().find(|f| f.id == id).map(|f| f.platform);
        return Ok(DrillReach::SandboxAccounts(
            sandbox
                .accounts
                .iter()
                .filter_map(|id| platform_of(*id).map(|p| (*id, p)))
                .collect(),
        ));
    }
    Ok(match resolved(false)? {
        Some(real) => DrillReach::StandIns(real.platforms()),
        None => DrillReach::Everywhere,
    })
}

/// The target set in words: `groups public, staff` or `every account`.
pub(crate) fn describe(spec: &TargetSpec) -> String {
    if spec.everyone {
        "every account".into()
    } else {
        format!("groups {}", spec.groups.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, platform: Platform, groups: &[&str], sandbox: bool) -> Account {
        Account {
            id,
            platform: if sandbox { Platform::Sandbox } else { platform },
            stands_for: sandbox.then_some(platform),
            handle: format!("h{id}"),
            display_name: format!("Account {id}"),
            sandbox,
            status: AccountStatus::Connected,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn known(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn never(_: &Account) -> bool {
        false
    }

    #[test]
    fn sandbox_accounts_in_the_groups_are_the_rehearsal() {
        let accounts = vec![
            account(1, Platform::Mastodon, &["public"], false),
            account(2, Platform::Sms, &["residents-sms"], false),
            account(3, Platform::Mastodon, &["public"], true),
            account(4, Platform::Slack, &["staff"], true),
        ];
        let spec = spec_for(&[], &["public".into()]);
        let got = reach(
            &spec,
            &accounts,
            &known(&["public", "residents-sms", "staff"]),
            &["public".into()],
            &never,
        )
        .unwrap();
        assert_eq!(
            got,
            DrillReach::SandboxAccounts(vec![(3, Platform::Mastodon)])
        );
    }

    #[test]
    fn without_sandbox_accounts_the_drill_stands_in_for_the_platforms_the_real_set_reaches() {
        let accounts = vec![
            account(1, Platform::Mastodon, &["public"], false),
            account(2, Platform::Sms, &["residents-sms"], false),
            account(5, Platform::Bluesky, &["public"], false),
            account(6, Platform::Email, &["partners"], false),
        ];
        let groups = vec!["public".to_string(), "residents-sms".to_string()];
        let spec = spec_for(&groups, &["public".into()]);
        let got = reach(
            &spec,
            &accounts,
            &known(&["public", "residents-sms", "partners"]),
            &["public".into()],
            &never,
        )
        .unwrap();
        assert_eq!(
            got,
            DrillReach::StandIns(vec![Platform::Mastodon, Platform::Bluesky, Platform::Sms])
        );
    }

    #[test]
    fn groups_that_reach_nobody_stand_in_everywhere_and_unknown_ones_are_refused() {
        let accounts = vec![account(1, Platform::Mastodon, &["staff"], false)];
        let spec = spec_for(&[], &["public".into()]);
        let got = reach(
            &spec,
            &accounts,
            &known(&["public", "staff"]),
            &["public".into()],
            &never,
        )
        .unwrap();
        assert_eq!(got, DrillReach::Everywhere);

        let spec = spec_for(&["pubic".into()], &["public".into()]);
        let err = reach(&spec, &accounts, &known(&["public", "staff"]), &[], &never)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--group pubic"), "{err}");
    }

    #[test]
    fn disabled_accounts_and_the_drills_own_stand_ins_do_not_count() {
        let mut disabled = account(1, Platform::Mastodon, &["public"], true);
        disabled.status = AccountStatus::Disabled;
        let stand_in = account(2, Platform::X, &["public"], true);
        let accounts = vec![
            disabled,
            stand_in,
            account(3, Platform::Bluesky, &["public"], false),
        ];
        let spec = spec_for(&[], &["public".into()]);
        let got = reach(
            &spec,
            &accounts,
            &known(&["public"]),
            &["public".into()],
            &|a: &Account| a.id == 2,
        )
        .unwrap();
        assert_eq!(got, DrillReach::StandIns(vec![Platform::Bluesky]));
    }
}

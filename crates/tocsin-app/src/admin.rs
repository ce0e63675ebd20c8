//! Administration: users (add, giving a one-time enrolment link; change role, disable,
//! reset the second factor with a new link) through [`crate::people::People`], which checks the role and
//! the recent re-authentication these changes need; and platform accounts (list with
//! their status, circuit breaker and whether a secret is stored; add sandbox stand-ins
//! or real accounts with their settings and sealed secret; replace a secret; disable).

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use tocsin_connector::descriptor::SettingKey;
use tocsin_domain::account_languages::AccountLanguages;
use tocsin_domain::Platform;
use tocsin_store::oauth::AccountOAuth;
use tocsin_store::{AccountRecord, NewAccount};

use crate::accounts::{CredentialCheck, NewPlatformAccount};
use crate::error::{AppError, AppResult};
use crate::people::enrolment::enrolment_path;
use crate::people::{Caller, EnrolmentInvite, Permission, Role};
use crate::Authed;
use crate::Tocsin;

/// A user on the admin page.
#[derive(Debug, Serialize)]
pub struct UserView {
    name: String,
    role: &'static str,
    second_factor: &'static str,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Every user (admin).
pub async fn users(app: &Tocsin, who: &Authed) -> AppResult<Vec<UserView>> {
    let rows = app
        .0
        .people
        .list_users(Caller::Session(&who.session))
        .await?;
    Ok(rows
        .into_iter()
        .map(|u| UserView {
            name: u.name,
            role: u.role.as_str(),
            second_factor: u.second_factor,
            disabled_at: u.disabled_at,
            created_at: u.created_at,
        })
        .collect())
}

fn role(text: &str) -> AppResult<Role> {
    text.parse::<Role>().map_err(|_| {
        AppError::invalid(
            "role",
            format!("`{text}` is not a role (viewer, drafter, approver, compliance, admin)"),
        )
    })
}

/// A new user: a name and a role, no credentials (the person sets their own).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    name: String,
    role: String,
}

/// What to give the new (or reset) user: their one-time enrolment link. Never a
/// password or a second factor's secret.
#[derive(Debug, Serialize)]
pub struct Invite {
    name: String,
    role: &'static str,
    /// The enrolment page after the server's base URL (`/#/enrol/<token>`).
    enrolment_path: String,
    /// The whole link when `[server] public_url` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    enrolment_url: Option<String>,
    /// When the link stops working (24 hours on).
    expires_at: DateTime<Utc>,
}

/// The invite to show for `invite`, with the whole link when the public URL is known.
pub fn invite_view(invite: &EnrolmentInvite, public_url: Option<&str>) -> Invite {
    let path = enrolment_path(&invite.token);
    Invite {
        name: invite.name.clone(),
        role: invite.role.as_str(),
        enrolment_url: public_url.map(|base| format!("{}{path}", base.trim_end_matches('/'))),
        enrolment_path: path,
        expires_at: invite.expires_at,
    }
}

/// Adds a user and returns their enrolment link (admin).
pub async fn add_user(
    app: &Tocsin,
    who: &Authed,
    form: AddUser,
    public_url: Option<&str>,
) -> AppResult<Invite> {
    let role = role(&form.role)?;
    let caller = Caller::Session(&who.session);
    let invite = app
        .0
        .people
        .add_user(caller, form.name.trim(), role)
        .await?;
    Ok(invite_view(&invite, public_url))
}

/// A role change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: String,
}

/// Changes a user's role (admin).
pub async fn set_role(app: &Tocsin, who: &Authed, name: String, form: SetRole) -> AppResult<()> {
    let role = role(&form.role)?;
    app.0
        .people
        .set_role(Caller::Session(&who.session), &name, role)
        .await?;
    Ok(())
}

/// Disables a user (admin).
pub async fn disable_user(app: &Tocsin, who: &Authed, name: String) -> AppResult<()> {
    app.0
        .people
        .disable_user(Caller::Session(&who.session), &name)
        .await?;
    Ok(())
}

/// Removes a user's second factor and gives them a new enrolment link (admin).
pub async fn reset_totp(
    app: &Tocsin,
    who: &Authed,
    name: String,
    public_url: Option<&str>,
) -> AppResult<Invite> {
    let invite = app
        .0
        .people
        .reset_totp(Caller::Session(&who.session), &name)
        .await?;
    Ok(invite_view(&invite, public_url))
}

/// An account on the admin page. Never its secret: only whether one is stored.
#[derive(Debug, Serialize)]
pub struct AccountView {
    id: i64,
    platform: String,
    stands_for: Option<String>,
    handle: String,
    display_name: String,
    sandbox: bool,
    connected: bool,
    breaker: &'static str,
    status: &'static str,
    status_detail: Option<String>,
    not_connected: Option<String>,
    secret_stored: bool,
    secret_updated_at: Option<DateTime<Utc>>,
    groups: Vec<String>,
    /// The languages it posts, first to last (empty: each playbook's primary language).
    languages: Vec<String>,
    /// `separate` (one post per language) or `together` (one post where it fits).
    language_posts: &'static str,
    /// Stored with the credential check skipped: never tried against the platform.
    unchecked: bool,
    oauth: Option<OAuthView>,
}

/// What the admin page shows of an OAuth account's token (never the token).
#[derive(Debug, Serialize)]
pub struct OAuthView {
    remote_name: String,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    refreshable: bool,
    connected_by: String,
    connected_at: DateTime<Utc>,
    refreshed_at: Option<DateTime<Utc>>,
    refresh_error: Option<String>,
}

fn oauth_view(o: AccountOAuth) -> OAuthView {
    OAuthView {
        remote_name: o.meta.remote_name,
        scopes: o.meta.scopes,
        expires_at: o.meta.expires_at,
        refreshable: o.meta.refreshable,
        connected_by: o.connected_by,
        connected_at: o.connected_at,
        refreshed_at: o.refreshed_at,
        refresh_error: o.refresh_error,
    }
}

/// An account's view with its OAuth token facts read from the store.
async fn account_view_with_oauth(app: &Tocsin, a: AccountRecord) -> AppResult<AccountView> {
    let oauth = app.0.store.oauth().account(a.id).await?;
    let mut view = account_view(app, a);
    view.oauth = oauth.map(oauth_view);
    Ok(view)
}

fn account_view(app: &Tocsin, a: AccountRecord) -> AccountView {
    AccountView {
        oauth: None,
        id: a.id,
        stands_for: a.stands_for.map(|p| p.as_str().to_string()),
        connected: app.0.routes.contains(a.id),
        breaker: app.0.dispatcher.breaker_state(a.id),
        status: a.status.as_str(),
        status_detail: a.status_detail,
        not_connected: app.0.vault.not_connected(a.id).map(|why| why.to_string()),
        secret_stored: a.secret_sealed.is_some(),
        secret_updated_at: a.secret_updated_at,
        unchecked: a.unchecked,
        platform: a.platform.as_str().to_string(),
        handle: a.handle,
        display_name: a.display_name,
        sandbox: a.sandbox,
        groups: a.groups,
        languages: a
            .languages
            .languages
            .iter()
            .map(|l| l.as_str().to_string())
            .collect(),
        language_posts: a.languages.posts.as_str(),
    }
}

/// Every platform account with its state (never its secret).
pub async fn accounts(app: &Tocsin, who: &Authed) -> AppResult<Vec<AccountView>> {
    who.require(app, Permission::ViewDeliveries)?;
    let rows = app.0.store.accounts().records().await?;
    let mut oauth: std::collections::HashMap<i64, AccountOAuth> = app
        .0
        .store
        .oauth()
        .accounts()
        .await?
        .into_iter()
        .map(|o| (o.account_id, o))
        .collect();
    Ok(rows
        .into_iter()
        .map(|a| {
            let facts = oauth.remove(&a.id).map(oauth_view);
            let mut view = account_view(app, a);
            view.oauth = facts;
            view
        })
        .collect())
}

/// A platform's setup on the admin page's form: a view of its descriptor.
#[derive(Debug, Serialize)]
pub struct PlatformSetupView {
    platform: &'static str,
    display_name: &'static str,
    secret: &'static str,
    secret_required: bool,
    settings: &'static [SettingKey],
    /// Why this deployment cannot post to the platform, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<&'static str>,
}

/// What stops a platform that fetches images from Tocsin when there is no public URL.
pub const NO_PUBLIC_URL: &str = "this deployment has no [server] public_url, and the \
     platform fetches each image from it: set public_url to an address the internet reaches";

/// What connecting each platform's account takes (its settings with examples, what its
/// secret is, and whether this deployment can use it: a platform that fetches images
/// from Tocsin cannot be used without `[server] public_url`).
pub async fn platforms(
    app: &Tocsin,
    who: &Authed,
    public_url: Option<&str>,
) -> AppResult<Vec<PlatformSetupView>> {
    who.require(app, Permission::ViewDeliveries)?;
    Ok(setups(public_url))
}

fn setups(public_url: Option<&str>) -> Vec<PlatformSetupView> {
    let no_public_url = public_url.is_none_or(|u| u.trim().is_empty());
    tocsin_connectors::ALL
        .iter()
        .map(|d| PlatformSetupView {
            platform: d.platform.as_str(),
            display_name: d.platform.display_name(),
            secret: d.secret.what,
            secret_required: d.secret.required,
            settings: d.settings,
            unavailable: (no_public_url && tocsin_connectors::needs_public_url(d.platform))
                .then_some(NO_PUBLIC_URL),
        })
        .collect()
}

#[cfg(test)]
mod setup_tests {
    use super::*;

    #[test]
    fn instagram_is_unavailable_without_a_public_url_and_the_others_are_not() {
        let without = setups(None);
        let instagram = without.iter().find(|s| s.platform == "instagram").unwrap();
        assert_eq!(instagram.unavailable, Some(NO_PUBLIC_URL));
        assert!(without
            .iter()
            .filter(|s| s.platform != "instagram")
            .all(|s| s.unavailable.is_none()));
        let with = setups(Some("https://alerts.county.example"));
        assert!(with.iter().all(|s| s.unavailable.is_none()));
    }
}

pub use crate::people::SecretInput;

/// A new account: a sandbox stand-in (`platform: "sandbox"`, `stands_for`), or a real
/// platform account with its settings and secret (see the README's platform setup).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAccount {
    platform: String,
    display_name: String,
    #[serde(default)]
    stands_for: Option<String>,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Value>,
    #[serde(default)]
    secret: Option<SecretInput>,
    #[serde(default)]
    groups: Vec<String>,
    /// Store without trying the credentials against the platform (it is down); the
    /// account is marked unchecked.
    #[serde(default)]
    skip_check: bool,
}

/// The groups an account belongs to, checked: names like playbook ids.
fn checked_groups(groups: &[String]) -> AppResult<Vec<String>> {
    tocsin_domain::audience::check_group_names(groups).map_err(|e| AppError::invalid("groups", e))
}

/// Adds an account. A real account is checked by building its connector and trying
/// its credentials against the platform (unless `skip_check`) before anything is stored,
/// stored with its secret sealed to its id, and connected from what was stored, so fan-out reaches it at once. The answer never holds the secret.
pub async fn add_account(app: &Tocsin, who: &Authed, form: AddAccount) -> AppResult<AccountView> {
    who.require(app, Permission::ManageAccounts)?;
    let groups = checked_groups(&form.groups)?;
    if form.platform != "sandbox" {
        return add_platform_account(app, who, form, groups).await;
    }
    if form.secret.is_some() || form.settings.is_some() {
        return Err(AppError::invalid(
            "secret",
            "a sandbox account takes neither settings nor a secret",
        ));
    }
    let stands_for_text = form.stands_for.as_deref().unwrap_or_default();
    let stands_for: Platform = stands_for_text.parse().map_err(|_| {
        AppError::invalid(
            "stands_for",
            format!("`{stands_for_text}` is not a platform"),
        )
    })?;
    let display_name = form.display_name.trim();
    if display_name.is_empty() || display_name.len() > 100 {
        return Err(AppError::invalid(
            "display_name",
            "a display name is 1 to 100 characters",
        ));
    }
    let suffix = form
        .handle
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            display_name
                .to_lowercase()
                .replace(char::is_whitespace, "-")
        });
    let handle = format!("sandbox:{}:{suffix}", stands_for.as_str());
    let id = app
        .0
        .store
        .accounts()
        .add(
            who.user(),
            &NewAccount {
                platform: Platform::Sandbox,
                stands_for: Some(stands_for),
                handle: handle.clone(),
                display_name: display_name.to_string(),
                sandbox: true,
                groups,
            },
        )
        .await?;
    let record = app
        .0
        .store
        .accounts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no account {id}")))?;
    // The vault builds the sandbox route from the stored handle, as at start-up.
    if let Err(why) = app.0.vault.connect(&app.0.routes, &record) {
        return Err(AppError::internal(&why));
    }
    app.0.vault.announce(id);
    Ok(account_view(app, record))
}

async fn add_platform_account(
    app: &Tocsin,
    who: &Authed,
    form: AddAccount,
    groups: Vec<String>,
) -> AppResult<AccountView> {
    let platform: Platform = form
        .platform
        .parse()
        .ok()
        .filter(|p| tocsin_connectors::descriptor(*p).is_some())
        .ok_or_else(|| {
            AppError::invalid(
                "platform",
                format!(
                    "`{}` is not a platform accounts are connected on (sandbox, {})",
                    form.platform.chars().take(40).collect::<String>(),
                    tocsin_connectors::ALL
                        .iter()
                        .map(|d| d.platform.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    if form.stands_for.is_some() {
        return Err(AppError::invalid(
            "stands_for",
            "only a sandbox account stands for another platform",
        ));
    }
    let account = NewPlatformAccount {
        platform,
        handle: form.handle.unwrap_or_default(),
        display_name: form.display_name,
        settings: form.settings.unwrap_or(serde_json::Value::Null),
        secret: form
            .secret
            .map(SecretInput::into_secret)
            .filter(|s| !s.expose_secret().trim().is_empty())
            .map(|s| SecretString::from(s.expose_secret().trim().to_string())),
        groups,
    };
    let check = if form.skip_check {
        CredentialCheck::Skip
    } else {
        CredentialCheck::Run
    };
    let record = app
        .0
        .vault
        .add(&app.0.store, who.user(), &account, check)
        .await?;
    if let Err(why) = app.0.vault.connect(&app.0.routes, &record) {
        tracing::warn!(account = record.id, reason = %why, "a new account did not connect");
    }
    Ok(account_view(app, record))
}

/// Disables an account: out of fan-out at once, on every node; the
/// account's row, its deliveries and the audit log keep its history.
pub async fn disable_account(app: &Tocsin, who: &Authed, id: i64) -> AppResult<AccountView> {
    who.require(app, Permission::ManageAccounts)?;
    app.0
        .vault
        .disable(&app.0.store, &app.0.routes, who.user(), id)
        .await?;
    let record = app
        .0
        .store
        .accounts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no account {id}")))?;
    account_view_with_oauth(app, record).await
}

/// An account's new groups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetGroups {
    groups: Vec<String>,
}

/// Replaces an account's groups (drafts from now on; approved messages keep the
/// accounts they were approved for). Audited as `account.groups`.
pub async fn set_groups(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    form: SetGroups,
) -> AppResult<AccountView> {
    who.require(app, Permission::ManageAccounts)?;
    let groups = checked_groups(&form.groups)?;
    app.0
        .store
        .accounts()
        .set_groups(who.user(), id, &groups)
        .await?;
    app.0.vault.announce(id);
    let record = app
        .0
        .store
        .accounts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no account {id}")))?;
    account_view_with_oauth(app, record).await
}

/// The languages an account posts, and how.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLanguages {
    /// BCP 47 tags, first to last (empty: the playbook's primary language only).
    languages: Vec<String>,
    /// `separate` (one post per language, each next one a reply to the first; the
    /// default) or `together` (one post where the platform's limit allows).
    #[serde(default = "separate")]
    posts: String,
}

fn separate() -> String {
    "separate".into()
}

/// Sets the languages an account posts and how (messages approved from now on, and
/// those not sent yet). Audited as `account.languages`; every node picks it up.
pub async fn set_languages(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    form: SetLanguages,
) -> AppResult<AccountView> {
    who.require(app, Permission::ManageAccounts)?;
    let languages = AccountLanguages::parse(&form.languages.join(","), &form.posts)
        .map_err(|e| AppError::invalid("languages", e))?;
    app.0
        .store
        .accounts()
        .set_languages(who.user(), id, &languages)
        .await?;
    app.0.vault.announce(id);
    let record = app
        .0
        .store
        .accounts()
        .get(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no account {id}")))?;
    // This node's route posts the new languages at once (others re-read on the notice).
    if app.0.routes.contains(id) {
        let _ = app.0.vault.connect(&app.0.routes, &record);
    }
    account_view_with_oauth(app, record).await
}

/// A replacement secret.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSecret {
    secret: SecretInput,
    /// Store without trying the new secret against the platform (it is down); the
    /// account is then marked unchecked.
    #[serde(default)]
    skip_check: bool,
}

/// Replaces an account's secret: a new secret (a rotated token, a new webhook URL),
/// checked by the platform's connector and tried against the platform (unless
/// `skip_check`), stored sealed; the account is connected again at once, on every node.
/// The answer never holds the secret.
pub async fn replace_secret(
    app: &Tocsin,
    who: &Authed,
    id: i64,
    form: ReplaceSecret,
) -> AppResult<AccountView> {
    who.require(app, Permission::ManageAccounts)?;
    let record = app
        .0
        .vault
        .replace_secret(
            &app.0.store,
            who.user(),
            id,
            form.secret.into_secret(),
            if form.skip_check {
                CredentialCheck::Skip
            } else {
                CredentialCheck::Run
            },
        )
        .await?;
    if let Err(why) = app.0.vault.connect(&app.0.routes, &record) {
        tracing::warn!(account = id, reason = %why, "an account did not connect after its secret was replaced");
    }
    Ok(account_view(app, record))
}

//! Roles and what each may do, as one explicit table ([`Role::permissions`]).
//!
//! Separation of duties is deliberate: an admin manages people and platform accounts but
//! neither drafts nor approves content (someone who must do both holds two accounts), and
//! compliance reads and exports the audit log and keeps the consent register but cannot
//! publish. An approver also drafts, so a small team can run a two-person alert.

use std::fmt;
use std::str::FromStr;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Sees playbooks, drafts and deliveries.
    Viewer,
    /// Also fills playbooks and submits drafts.
    Drafter,
    /// Also approves, publishes (break-glass included) and retracts.
    Approver,
    /// Reads and exports the audit log, keeps the consent register.
    Compliance,
    /// Manages users and platform accounts.
    Admin,
}

/// Something a role may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// See drafts, playbooks and previews.
    ViewDrafts,
    /// See the delivery grid.
    ViewDeliveries,
    /// Create, edit and submit drafts.
    EditDrafts,
    /// Approve a draft someone else submitted, or request changes.
    Approve,
    /// Override a PHI or limit warning with a reason and a consent reference.
    OverrideWarnings,
    /// Publish alone in an emergency.
    BreakGlass,
    /// Correct or retract a published message everywhere.
    Retract,
    /// Read the audit log.
    ReadAudit,
    /// Export the audit log.
    ExportAudit,
    /// Keep the consent register.
    ManageConsent,
    /// Add users, change roles, disable, reset second factors.
    ManageUsers,
    /// Connect and remove platform accounts.
    ManageAccounts,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 12] = [
        Permission::ViewDrafts,
        Permission::ViewDeliveries,
        Permission::EditDrafts,
        Permission::Approve,
        Permission::OverrideWarnings,
        Permission::BreakGlass,
        Permission::Retract,
        Permission::ReadAudit,
        Permission::ExportAudit,
        Permission::ManageConsent,
        Permission::ManageUsers,
        Permission::ManageAccounts,
    ];

    /// Whether using this permission needs a recent re-authentication (password and code
    /// again), whatever the role.
    pub fn needs_recent_reauthentication(self) -> bool {
        matches!(
            self,
            Permission::BreakGlass | Permission::ManageUsers | Permission::ManageAccounts
        )
    }
}

impl Role {
    /// Every role, least to most privileged in people terms.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Drafter,
        Role::Approver,
        Role::Compliance,
        Role::Admin,
    ];

    /// The table: what each role may do.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Viewer => &[ViewDrafts, ViewDeliveries],
            Role::Drafter => &[ViewDrafts, ViewDeliveries, EditDrafts],
            Role::Approver => &[
                ViewDrafts,
                ViewDeliveries,
                EditDrafts,
                Approve,
                OverrideWarnings,
                BreakGlass,
                Retract,
            ],
            Role::Compliance => &[
                ViewDrafts,
                ViewDeliveries,
                ReadAudit,
                ExportAudit,
                ManageConsent,
            ],
            Role::Admin => &[
                ViewDrafts,
                ViewDeliveries,
                ReadAudit,
                ManageUsers,
                ManageAccounts,
            ],
        }
    }

    /// Whether this role may do `permission`.
    pub fn can(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Drafter => "drafter",
            Role::Approver => "approver",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A role name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role: use viewer, drafter, approver, compliance or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownRole(text.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn every_role_name_reads_back_as_itself_and_others_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("root"
            .parse::<Role>()
            .unwrap_err()
            .to_string()
            .contains("viewer, drafter"));
    }

    #[test]
    fn the_table_grants_exactly_these_permissions() {
        let expected: &[(Role, &[Permission])] = &[
            (Role::Viewer, &[ViewDrafts, ViewDeliveries]),
            (Role::Drafter, &[ViewDrafts, ViewDeliveries, EditDrafts]),
            (
                Role::Approver,
                &[
                    ViewDrafts,
                    ViewDeliveries,
                    EditDrafts,
                    Approve,
                    OverrideWarnings,
                    BreakGlass,
                    Retract,
                ],
            ),
            (
                Role::Compliance,
                &[
                    ViewDrafts,
                    ViewDeliveries,
                    ReadAudit,
                    ExportAudit,
                    ManageConsent,
                ],
            ),
            (
                Role::Admin,
                &[
                    ViewDrafts,
                    ViewDeliveries,
                    ReadAudit,
                    ManageUsers,
                    ManageAccounts,
                ],
            ),
        ];
        for (role, allowed) in expected {
            for p in Permission::ALL {
                assert_eq!(role.can(p), allowed.contains(&p), "{role} {p:?}");
            }
        }
    }

    #[test]
    fn an_admin_neither_drafts_nor_approves_content() {
        for p in [EditDrafts, Approve, BreakGlass, OverrideWarnings, Retract] {
            assert!(!Role::Admin.can(p), "{p:?}");
        }
    }

    #[test]
    fn only_approvers_publish_and_only_compliance_exports_the_audit_log() {
        let who = |p| {
            Role::ALL
                .into_iter()
                .filter(|r| r.can(p))
                .collect::<Vec<_>>()
        };
        assert_eq!(who(Approve), vec![Role::Approver]);
        assert_eq!(who(BreakGlass), vec![Role::Approver]);
        assert_eq!(who(ExportAudit), vec![Role::Compliance]);
        assert_eq!(who(ManageConsent), vec![Role::Compliance]);
        assert_eq!(who(ManageUsers), vec![Role::Admin]);
    }

    #[test]
    fn break_glass_and_people_and_account_changes_need_a_recent_reauthentication() {
        let needing: Vec<_> = Permission::ALL
            .into_iter()
            .filter(|p| p.needs_recent_reauthentication())
            .collect();
        assert_eq!(needing, vec![BreakGlass, ManageUsers, ManageAccounts]);
    }
}

//! The approval state machine: who may move a draft from one state to the next, and why not.
//!
//! Draft → (edit) → submitted → approved (published) or changes requested; the two-person
//! rule, approvals bound to the exact rendered text, blocking problems (PHI, over-limit
//! variants) that need an override with a reason and, for PHI, a valid consent record,
//! and break-glass publishing by one approver. Pure: callers bring the facts (the draft,
//! the actor, the consent register's answer) and carry out the transition it returns.

use serde::{Deserialize, Serialize};

use crate::playbook::ApprovalPolicy;

/// Where a draft stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    /// Being written; the drafter may edit.
    Draft,
    /// Waiting for an approver.
    Submitted,
    /// Sent back to the drafter with a reason.
    ChangesRequested,
    /// Approved and handed to fan-out.
    Published,
    /// Abandoned by the drafter.
    Withdrawn,
}

impl DraftState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DraftState::Draft => "draft",
            DraftState::Submitted => "submitted",
            DraftState::ChangesRequested => "changes_requested",
            DraftState::Published => "published",
            DraftState::Withdrawn => "withdrawn",
        }
    }

    /// Every state.
    pub const ALL: [DraftState; 5] = [
        DraftState::Draft,
        DraftState::Submitted,
        DraftState::ChangesRequested,
        DraftState::Published,
        DraftState::Withdrawn,
    ];

    /// Reads a stored name; `None` for one that is no state (never a silent default).
    pub fn parse(text: &str) -> Option<DraftState> {
        DraftState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Something that blocks approval unless overridden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// Possible protected health information in a variant.
    Phi {
        /// Where (`x`, `headline`, ...).
        target: String,
        /// The family (`ssn`, `name`, ...).
        family: String,
        /// The family in words ("a Social Security number").
        #[serde(default)]
        description: String,
        /// The variable whose value it was found in (`None`: the template's own text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        variable: Option<String>,
    },
    /// A variant longer than its platform allows (or with too many hashtags or links).
    OverLimit {
        /// Where.
        target: String,
        /// What is wrong.
        problem: String,
    },
}

impl Blocker {
    /// Whether overriding it needs a consent record.
    pub fn needs_consent(&self) -> bool {
        matches!(self, Blocker::Phi { .. })
    }
}

/// The consent register's answer for a reference given with an override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsentCheck {
    /// The record exists, is in force and covers this use.
    Valid,
    /// No such record.
    Unknown,
    /// The record expired.
    Expired,
    /// The record does not cover this use (e.g. another playbook or channel).
    OutOfScope,
    /// The record was withdrawn by the person.
    Revoked,
}

/// An approver's override of the blocking problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Why it is right to publish anyway.
    pub reason: String,
    /// The consent record covering PHI, when there is PHI.
    pub consent_ref: Option<String>,
    /// The register's answer for `consent_ref` (filled in by the caller).
    pub consent: Option<ConsentCheck>,
}

/// What someone asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Change the values (the drafter, while drafting or after changes were requested).
    Edit,
    /// Ask for approval.
    Submit,
    /// Send it back.
    RequestChanges {
        /// Why.
        reason: String,
    },
    /// Approve the text whose hash is given (the text the approver saw).
    Approve {
        /// Hash of the rendered variants the approver reviewed.
        reviewed_hash: String,
        /// Override of the blocking problems, if any.
        override_: Option<Override>,
    },
    /// Publish alone in an emergency.
    BreakGlass {
        /// Hash of the rendered variants reviewed.
        reviewed_hash: String,
        /// Why there was no time for a second person.
        reason: String,
        /// Override of the blocking problems, if any.
        override_: Option<Override>,
    },
    /// Abandon the draft.
    Withdraw,
}

/// The person acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Sign-in name.
    pub name: String,
    /// May draft and edit.
    pub can_draft: bool,
    /// May approve.
    pub can_approve: bool,
    /// Re-authenticated within the last few minutes (needed for break-glass).
    pub recently_reauthenticated: bool,
}

/// The facts about a draft the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftFacts {
    /// Who wrote it.
    pub drafter: String,
    /// Where it stands.
    pub state: DraftState,
    /// Hash of its rendered variants now.
    pub rendered_hash: String,
    /// The playbook's policy.
    pub policy: ApprovalPolicy,
    /// Whether the playbook is pre-approved at its current content.
    pub playbook_usable: bool,
    /// Problems that block approval.
    pub blockers: Vec<Blocker>,
}

/// A permitted transition, with what to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub to: DraftState,
    /// The audit action (`draft.submit`, `draft.approve`, `draft.break_glass`, ...).
    pub audit_action: &'static str,
    /// Whether this is a break-glass publish (queued for compliance review).
    pub break_glass: bool,
    /// Whether blockers were overridden.
    pub overridden: bool,
}

/// Why an action was refused: a sentence for the person, and a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Stable machine code (`self_approval`, `stale_review`, ...).
    pub code: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn check_override(facts: &DraftFacts, override_: Option<&Override>) -> Result<bool, Refusal> {
    if facts.blockers.is_empty() {
        return Ok(false);
    }
    let Some(o) = override_ else {
        return Err(refuse(
            "blocked",
            format!(
                "{} problem(s) block approval (PHI or length); fix the draft or override with a reason",
                facts.blockers.len()
            ),
        ));
    };
    if o.reason.trim().len() < 10 {
        return Err(refuse(
            "override_reason",
            "an override needs a reason of at least 10 characters",
        ));
    }
    if facts.blockers.iter().any(Blocker::needs_consent) {
        let Some(reference) = o.consent_ref.as_deref().filter(|r| !r.trim().is_empty()) else {
            return Err(refuse(
                "consent_required",
                "possible PHI: overriding needs the reference of the signed consent record",
            ));
        };
        match o.consent {
            Some(ConsentCheck::Valid) => {}
            Some(ConsentCheck::Unknown) | None => {
                return Err(refuse(
                    "consent_unknown",
                    format!("consent record `{reference}` is not in the register"),
                ))
            }
            Some(ConsentCheck::Expired) => {
                return Err(refuse(
                    "consent_expired",
                    format!("consent record `{reference}` has expired"),
                ))
            }
            Some(ConsentCheck::OutOfScope) => {
                return Err(refuse(
                    "consent_out_of_scope",
                    format!("consent record `{reference}` does not cover this message"),
                ))
            }
            Some(ConsentCheck::Revoked) => {
                return Err(refuse(
                    "consent_revoked",
                    format!("consent record `{reference}` was withdrawn"),
                ))
            }
        }
    }
    Ok(true)
}

/// Decides whether `actor` may do `action` to a draft with these `facts`.
pub fn decide(facts: &DraftFacts, actor: &Actor, action: &Action) -> Result<Transition, Refusal> {
    let is_drafter = actor.name == facts.drafter;
    let open = matches!(
        facts.state,
        DraftState::Draft | DraftState::ChangesRequested
    );
    match action {
        Action::Edit | Action::Submit | Action::Withdraw if !is_drafter => Err(refuse(
            "not_drafter",
            "only the drafter may edit, submit or withdraw this draft",
        )),
        Action::Edit | Action::Submit | Action::Withdraw if !actor.can_draft => {
            Err(refuse("role", "your role cannot draft"))
        }
        Action::Edit if open => Ok(Transition {
            to: DraftState::Draft,
            audit_action: "draft.edit",
            break_glass: false,
            overridden: false,
        }),
        Action::Edit if facts.state == DraftState::Submitted => Ok(Transition {
            // An edit after submission withdraws the request: approvers must see the new text.
            to: DraftState::Draft,
            audit_action: "draft.edit",
            break_glass: false,
            overridden: false,
        }),
        Action::Submit if open => {
            if !facts.playbook_usable {
                return Err(refuse(
                    "playbook_not_approved",
                    "the playbook changed since its pre-approval (or was never approved): it cannot be used",
                ));
            }
            Ok(Transition {
                to: DraftState::Submitted,
                audit_action: "draft.submit",
                break_glass: false,
                overridden: false,
            })
        }
        Action::Withdraw if facts.state != DraftState::Published => Ok(Transition {
            to: DraftState::Withdrawn,
            audit_action: "draft.withdraw",
            break_glass: false,
            overridden: false,
        }),
        Action::RequestChanges { reason } => {
            if !actor.can_approve {
                return Err(refuse("role", "only approvers can request changes"));
            }
            if facts.state != DraftState::Submitted {
                return Err(refuse("state", "only a submitted draft can be sent back"));
            }
            if reason.trim().is_empty() {
                return Err(refuse("reason", "say what needs to change"));
            }
            Ok(Transition {
                to: DraftState::ChangesRequested,
                audit_action: "draft.request_changes",
                break_glass: false,
                overridden: false,
            })
        }
        Action::Approve {
            reviewed_hash,
            override_,
        } => {
            if !actor.can_approve {
                return Err(refuse("role", "your role cannot approve"));
            }
            if facts.state != DraftState::Submitted {
                return Err(refuse(
                    "state",
                    format!("the draft is {}, not submitted", facts.state.as_str()),
                ));
            }
            if facts.policy == ApprovalPolicy::TwoPerson && is_drafter {
                return Err(refuse(
                    "self_approval",
                    "this playbook needs a second person: the drafter cannot approve their own draft (use break-glass in an emergency)",
                ));
            }
            if *reviewed_hash != facts.rendered_hash {
                return Err(refuse(
                    "stale_review",
                    "the draft changed since you reviewed it: review the new text and approve again",
                ));
            }
            if !facts.playbook_usable {
                return Err(refuse(
                    "playbook_not_approved",
                    "the playbook changed since its pre-approval: it cannot be used",
                ));
            }
            let overridden = check_override(facts, override_.as_ref())?;
            Ok(Transition {
                to: DraftState::Published,
                audit_action: "draft.approve",
                break_glass: false,
                overridden,
            })
        }
        Action::BreakGlass {
            reviewed_hash,
            reason,
            override_,
        } => {
            if !actor.can_approve {
                return Err(refuse(
                    "role",
                    "only approvers can publish through break-glass",
                ));
            }
            if !actor.recently_reauthenticated {
                return Err(refuse(
                    "reauthenticate",
                    "break-glass needs your password and code again",
                ));
            }
            if !matches!(
                facts.state,
                DraftState::Draft | DraftState::Submitted | DraftState::ChangesRequested
            ) {
                return Err(refuse(
                    "state",
                    format!("the draft is {}", facts.state.as_str()),
                ));
            }
            if reason.trim().len() < 10 {
                return Err(refuse(
                    "reason",
                    "break-glass needs a reason of at least 10 characters",
                ));
            }
            if *reviewed_hash != facts.rendered_hash {
                return Err(refuse(
                    "stale_review",
                    "the draft changed since you reviewed it",
                ));
            }
            if !facts.playbook_usable {
                return Err(refuse(
                    "playbook_not_approved",
                    "the playbook changed since its pre-approval: it cannot be used",
                ));
            }
            let overridden = check_override(facts, override_.as_ref())?;
            Ok(Transition {
                to: DraftState::Published,
                audit_action: "draft.break_glass",
                break_glass: true,
                overridden,
            })
        }
        Action::Edit | Action::Submit | Action::Withdraw => Err(refuse(
            "state",
            format!("the draft is {}", facts.state.as_str()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> DraftFacts {
        DraftFacts {
            drafter: "dana".into(),
            state: DraftState::Submitted,
            rendered_hash: "h1".into(),
            policy: ApprovalPolicy::TwoPerson,
            playbook_usable: true,
            blockers: vec![],
        }
    }

    fn approver(name: &str) -> Actor {
        Actor {
            name: name.into(),
            can_draft: true,
            can_approve: true,
            recently_reauthenticated: false,
        }
    }

    fn approve(hash: &str) -> Action {
        Action::Approve {
            reviewed_hash: hash.into(),
            override_: None,
        }
    }

    #[test]
    fn a_second_approver_publishes_a_submitted_draft() {
        let t = decide(&facts(), &approver("alex"), &approve("h1")).unwrap();
        assert_eq!(t.to, DraftState::Published);
        assert_eq!(t.audit_action, "draft.approve");
        assert!(!t.break_glass);
    }

    #[test]
    fn the_drafter_cannot_approve_their_own_draft_under_the_two_person_rule() {
        let err = decide(&facts(), &approver("dana"), &approve("h1")).unwrap_err();
        assert_eq!(err.code, "self_approval");
        let mut single = facts();
        single.policy = ApprovalPolicy::Single;
        assert!(decide(&single, &approver("dana"), &approve("h1")).is_ok());
    }

    #[test]
    fn an_approval_covers_only_the_text_reviewed() {
        let err = decide(&facts(), &approver("alex"), &approve("h0")).unwrap_err();
        assert_eq!(err.code, "stale_review");
    }

    #[test]
    fn a_drafter_role_cannot_approve_and_a_viewer_cannot_draft() {
        let mut drafter = approver("alex");
        drafter.can_approve = false;
        assert_eq!(
            decide(&facts(), &drafter, &approve("h1")).unwrap_err().code,
            "role"
        );
        let mut f = facts();
        f.state = DraftState::Draft;
        let viewer = Actor {
            name: "dana".into(),
            can_draft: false,
            can_approve: false,
            recently_reauthenticated: false,
        };
        assert_eq!(
            decide(&f, &viewer, &Action::Submit).unwrap_err().code,
            "role"
        );
    }

    #[test]
    fn a_changed_playbook_cannot_be_submitted_or_approved() {
        let mut f = facts();
        f.playbook_usable = false;
        assert_eq!(
            decide(&f, &approver("alex"), &approve("h1"))
                .unwrap_err()
                .code,
            "playbook_not_approved"
        );
        f.state = DraftState::Draft;
        assert_eq!(
            decide(&f, &approver("dana"), &Action::Submit)
                .unwrap_err()
                .code,
            "playbook_not_approved"
        );
    }

    #[test]
    fn phi_blocks_approval_until_overridden_with_a_reason_and_a_valid_consent_record() {
        let mut f = facts();
        f.blockers = vec![Blocker::Phi {
            target: "x".into(),
            family: "name".into(),
            description: "a person's name in patient context".into(),
            variable: None,
        }];
        let a = approver("alex");
        assert_eq!(decide(&f, &a, &approve("h1")).unwrap_err().code, "blocked");
        let with = |consent_ref: Option<&str>, consent: Option<ConsentCheck>, reason: &str| {
            Action::Approve {
                reviewed_hash: "h1".into(),
                override_: Some(Override {
                    reason: reason.into(),
                    consent_ref: consent_ref.map(str::to_string),
                    consent,
                }),
            }
        };
        let reason = "patient asked us to share her story";
        assert_eq!(
            decide(&f, &a, &with(None, None, reason)).unwrap_err().code,
            "consent_required"
        );
        assert_eq!(
            decide(
                &f,
                &a,
                &with(Some("C-1"), Some(ConsentCheck::Unknown), reason)
            )
            .unwrap_err()
            .code,
            "consent_unknown"
        );
        assert_eq!(
            decide(
                &f,
                &a,
                &with(Some("C-1"), Some(ConsentCheck::Expired), reason)
            )
            .unwrap_err()
            .code,
            "consent_expired"
        );
        assert_eq!(
            decide(
                &f,
                &a,
                &with(Some("C-1"), Some(ConsentCheck::OutOfScope), reason)
            )
            .unwrap_err()
            .code,
            "consent_out_of_scope"
        );
        assert_eq!(
            decide(&f, &a, &with(Some("C-1"), Some(ConsentCheck::Valid), "ok"))
                .unwrap_err()
                .code,
            "override_reason"
        );
        let t = decide(
            &f,
            &a,
            &with(Some("C-1"), Some(ConsentCheck::Valid), reason),
        )
        .unwrap();
        assert!(t.overridden);
    }

    #[test]
    fn an_over_limit_variant_needs_an_override_but_no_consent() {
        let mut f = facts();
        f.blockers = vec![Blocker::OverLimit {
            target: "x".into(),
            problem: "290 of 280".into(),
        }];
        let action = Action::Approve {
            reviewed_hash: "h1".into(),
            override_: Some(Override {
                reason: "X account will truncate; accepted".into(),
                consent_ref: None,
                consent: None,
            }),
        };
        assert!(decide(&f, &approver("alex"), &action).unwrap().overridden);
    }

    #[test]
    fn break_glass_lets_one_approver_publish_after_reauthenticating_with_a_reason() {
        let mut f = facts();
        f.state = DraftState::Draft;
        let mut dana = approver("dana");
        let action = Action::BreakGlass {
            reviewed_hash: "h1".into(),
            reason: "tornado on the ground, no second approver reachable".into(),
            override_: None,
        };
        assert_eq!(
            decide(&f, &dana, &action).unwrap_err().code,
            "reauthenticate"
        );
        dana.recently_reauthenticated = true;
        let t = decide(&f, &dana, &action).unwrap();
        assert!(t.break_glass);
        assert_eq!(t.audit_action, "draft.break_glass");
        let short = Action::BreakGlass {
            reviewed_hash: "h1".into(),
            reason: "hurry".into(),
            override_: None,
        };
        assert_eq!(decide(&f, &dana, &short).unwrap_err().code, "reason");
    }

    #[test]
    fn only_the_drafter_edits_and_an_edit_after_submission_needs_a_new_submission() {
        let f = facts();
        assert_eq!(
            decide(&f, &approver("alex"), &Action::Edit)
                .unwrap_err()
                .code,
            "not_drafter"
        );
        let t = decide(&f, &approver("dana"), &Action::Edit).unwrap();
        assert_eq!(t.to, DraftState::Draft);
    }

    #[test]
    fn a_published_draft_cannot_be_approved_again() {
        let mut f = facts();
        f.state = DraftState::Published;
        assert_eq!(
            decide(&f, &approver("alex"), &approve("h1"))
                .unwrap_err()
                .code,
            "state"
        );
    }
}

//! The people stories: sign-in, second factor, throttling, sessions, re-authentication,
//! role changes and disabling, each audited and none leaking a secret.

use chrono::Duration;
use secrecy::{ExposeSecret as _, SecretString};
use tocsin_app::people::{
    totp_aad, AccessError, Caller, PeopleError, Role, SealingKey, SessionError, SessionId,
    SignInError,
};

use crate::on_both_backends;
use crate::support::{ip, password, Backend, World, OPERATOR};

on_both_backends!(
    a_wrong_password_and_an_unknown_user_get_the_same_answer,
    a_replayed_code_is_refused_even_after_sign_out,
    a_code_from_the_previous_step_is_accepted_once,
    repeated_failures_throttle_the_account_from_that_address_and_then_the_address,
    a_locked_account_still_signs_in_from_an_address_that_has_not_failed,
    refused_sign_ins_are_counted_per_minute_account_and_address_not_one_entry_each,
    password_hashing_runs_a_few_at_a_time_however_many_sign_ins_arrive,
    the_throttle_counts_are_shared_by_every_node_and_kept_under_a_cap,
    a_session_ends_after_thirty_idle_minutes,
    a_busy_session_still_ends_twelve_hours_after_sign_in,
    each_sign_in_gets_a_new_session_id,
    sign_out_ends_the_session,
    user_changes_need_a_reauthentication_within_five_minutes,
    a_disabled_user_cannot_sign_in_and_loses_open_sessions,
    a_role_change_applies_to_open_sessions_at_once,
    an_enrolment_link_takes_effect_only_with_the_persons_password_and_a_code,
    an_enrolment_link_works_once_and_for_24_hours,
    a_reset_gives_a_new_link_and_the_old_factor_stops_working,
    a_person_changes_their_own_password_with_the_current_one,
    a_person_reenrols_their_second_factor_after_reauthenticating,
    the_audit_log_records_each_step_without_any_secret,
    a_sealed_secret_opens_only_with_its_key_and_its_user,
    bad_input_is_refused_with_a_clear_message,
    an_admin_cannot_disable_themselves_nor_leave_tocsin_without_an_admin,
);

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let wrong = w
        .people
        .sign_in(
            "ana",
            &SecretString::from("not her password at all"),
            &w.code(&secret, 0),
            ip(1),
        )
        .await
        .unwrap_err();
    let unknown = w
        .people
        .sign_in("nobody", &password("nobody"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap_err();
    let bad_code = w
        .people
        .sign_in("ana", &password("ana"), "000000", ip(1))
        .await;
    assert!(matches!(wrong, SignInError::WrongCredentials));
    assert!(matches!(unknown, SignInError::WrongCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.to_string(), "wrong name, password or code");
    if let Err(e) = bad_code {
        assert_eq!(e.to_string(), "wrong name, password or code");
    }
    assert!(
        w.has_audit("ana", "session.sign_in", "refused: wrong password")
            .await
    );
    assert!(
        w.has_audit("unknown", "session.sign_in", "refused: unknown user")
            .await
    );
    assert!(!w
        .audit()
        .await
        .iter()
        .any(|(actor, _, _)| actor == "nobody"));
}

async fn a_replayed_code_is_refused_even_after_sign_out(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let code = w.code(&secret, 0);
    let signed = w
        .people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await
        .unwrap();
    w.people.sign_out(&signed.session_id).await.unwrap();
    let again = w
        .people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await;
    assert!(matches!(again, Err(SignInError::CodeAlreadyUsed)));
    assert!(
        w.has_audit("ana", "session.sign_in", "refused: code already used")
            .await
    );
    // The same code is still refused after a restart: the last step is in the database.
    let store = w.db.reopen().await.unwrap();
    let restarted =
        tocsin_app::people::People::new(store, w.key.clone(), w.people.config().clone()).unwrap();
    let after_restart = restarted
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await;
    assert!(matches!(after_restart, Err(SignInError::CodeAlreadyUsed)));
    let next = w.fresh_code(&secret);
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &next, ip(1))
        .await
        .is_ok());
}

async fn a_code_from_the_previous_step_is_accepted_once(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    w.advance(Duration::minutes(5));
    let previous = w.code(&secret, -1);
    let too_old = w.code(&secret, -2);
    assert!(matches!(
        w.people
            .sign_in("ana", &password("ana"), &too_old, ip(1))
            .await,
        Err(SignInError::WrongCredentials)
    ));
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &previous, ip(1))
        .await
        .is_ok());
    assert!(matches!(
        w.people
            .sign_in("ana", &password("ana"), &previous, ip(1))
            .await,
        Err(SignInError::CodeAlreadyUsed)
    ));
    // The current step is newer than the one used, so it still works.
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .is_ok());
}

async fn repeated_failures_throttle_the_account_from_that_address_and_then_the_address(
    backend: Backend,
) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let wrong = SecretString::from("guessing the password now");
    for _ in 0..5 {
        let e = w
            .people
            .sign_in("ana", &wrong, &w.code(&secret, 0), ip(1))
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::WrongCredentials));
    }
    // From the guessing address, even the right password is not considered.
    let blocked = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            blocked,
            SignInError::Throttled {
                retry_after_secs: 30
            }
        ),
        "{blocked:?}"
    );
    assert_eq!(blocked.to_string(), "too many attempts, try again in 30 s");
    assert!(
        w.has_audit("ana", "session.sign_in", "refused: throttled")
            .await
    );
    // The countdown is true: one second before it ends, one second is left; then it works.
    w.advance(Duration::seconds(29));
    let almost = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            almost,
            SignInError::Throttled {
                retry_after_secs: 1
            }
        ),
        "{almost:?}"
    );
    w.advance(Duration::seconds(1));
    let code = w.fresh_code(&secret);
    w.people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await
        .unwrap();
    // One address guessing many names is blocked too, for every name.
    for i in 0..20 {
        let _ = w
            .people
            .sign_in(&format!("guess{i}"), &wrong, "123456", ip(9))
            .await;
    }
    let next = w.code(&secret, 1);
    let by_ip = w
        .people
        .sign_in("ana", &password("ana"), &next, ip(9))
        .await
        .unwrap_err();
    assert!(matches!(by_ip, SignInError::Throttled { .. }), "{by_ip:?}");
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &next, ip(3))
        .await
        .is_ok());
}

async fn refused_sign_ins_are_counted_per_minute_account_and_address_not_one_entry_each(
    backend: Backend,
) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let before = w.audit().await.len();
    let wrong = SecretString::from("guessing the password now");
    for _ in 0..12 {
        let _ = w.people.sign_in("ana", &wrong, "123456", ip(1)).await;
        let _ = w.people.sign_in("nobody", &wrong, "123456", ip(2)).await;
    }
    assert_eq!(
        w.audit().await.len(),
        before,
        "24 refusals wrote nothing to the chain yet"
    );
    // Once the minute is over, the next refusal (or the server's minute tick) folds it.
    w.advance(Duration::minutes(1));
    let _ = w
        .people
        .sign_in("ana", &wrong, &w.code(&secret, 0), ip(3))
        .await;
    let entries: Vec<(String, String, Option<String>)> =
        w.audit().await.into_iter().skip(before).collect();
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|(a, _, o)| (a.as_str(), o.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("ana", "refused: throttled (7 attempts)"),
            ("ana", "refused: wrong password (5 attempts)"),
            ("unknown", "refused: throttled (7 attempts)"),
            ("unknown", "refused: unknown user (5 attempts)"),
        ],
        "{entries:?}"
    );
    assert!(entries.iter().all(|(_, a, _)| a == "session.sign_in"));
    // The count of the minute still open is not written yet.
    assert!(!w
        .audit()
        .await
        .iter()
        .any(|(_, _, o)| o.as_deref() == Some("refused: wrong password (1 attempts)")));
}

async fn password_hashing_runs_a_few_at_a_time_however_many_sign_ins_arrive(backend: Backend) {
    let w = World::new(backend).await;
    let config = tocsin_app::people::PeopleConfig {
        password_cost: tocsin_app::people::PasswordCost::ASVS,
        max_concurrent_hashes: 2,
        ..Default::default()
    };
    let people = std::sync::Arc::new(
        tocsin_app::people::People::new(w.db.store.clone(), w.key.clone(), config).unwrap(),
    );
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..12u8 {
        let people = people.clone();
        tries.spawn(async move {
            let wrong = SecretString::from("an anonymous burst of guesses");
            people
                .sign_in(&format!("nobody{i}"), &wrong, "123456", ip(100 + i))
                .await
        });
    }
    while let Some(answer) = tries.join_next().await {
        assert!(matches!(
            answer.unwrap(),
            Err(SignInError::WrongCredentials)
        ));
    }
    let peak = people.password_hashing_peak();
    assert!((1..=2).contains(&peak), "{peak} hashes ran at once");
}

async fn a_locked_account_still_signs_in_from_an_address_that_has_not_failed(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Approver).await;
    let wrong = SecretString::from("an attacker guessing away");
    // Someone elsewhere guesses at ana's account long enough to lock it from there ...
    for _ in 0..12 {
        let _ = w.people.sign_in("ana", &wrong, "123456", ip(66)).await;
    }
    assert!(matches!(
        w.people
            .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(66))
            .await,
        Err(SignInError::Throttled { .. })
    ));
    // ... and ana, at her own desk, signs in and can re-authenticate as usual.
    let code = w.fresh_code(&secret);
    let s = w
        .people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await
        .unwrap();
    let code = w.fresh_code(&secret);
    w.people
        .reauthenticate(&s.session_id, &password("ana"), &code, ip(1))
        .await
        .unwrap();
}

async fn the_throttle_counts_are_shared_by_every_node_and_kept_under_a_cap(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    // A second node: its own People over the same database.
    let mut config = tocsin_app::people::PeopleConfig {
        password_cost: tocsin_app::people::PasswordCost::TESTS_ONLY,
        ..Default::default()
    };
    config.throttle.max_records = 10;
    let other = tocsin_app::people::People::new(w.db.store.clone(), w.key.clone(), config).unwrap();
    let wrong = SecretString::from("guessing the password now");
    for _ in 0..5 {
        let _ = w
            .people
            .sign_in("ana", &wrong, &w.code(&secret, 0), ip(1))
            .await;
    }
    assert!(matches!(
        other
            .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
            .await,
        Err(SignInError::Throttled { .. })
    ));
    // Many addresses and names, some absurdly long: the table keeps at most its cap.
    let long = "x".repeat(5_000);
    for i in 0..30u8 {
        let name = if i % 2 == 0 { long.as_str() } else { "bob" };
        let _ = other.sign_in(name, &wrong, "123456", ip(100 + i)).await;
    }
    let rows = w.db.store.people().throttle_rows().await.unwrap();
    assert!(rows <= 10, "{rows} rows");
}

async fn a_session_ends_after_thirty_idle_minutes(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    w.advance(Duration::minutes(29));
    let seen = w.people.session(&s.session_id).await.unwrap();
    assert_eq!(seen.last_seen_at, w.db.store.now());
    w.advance(Duration::minutes(29));
    assert!(
        w.people.session(&s.session_id).await.is_ok(),
        "each use moves the idle window"
    );
    w.advance(Duration::minutes(30));
    let e = w.people.session(&s.session_id).await.unwrap_err();
    assert!(matches!(e, SessionError::Expired("inactivity")), "{e:?}");
    assert!(matches!(
        w.people.session(&s.session_id).await,
        Err(SessionError::Unknown)
    ));
    assert!(w.has_audit("ana", "session.expire", "inactivity").await);
}

async fn a_busy_session_still_ends_twelve_hours_after_sign_in(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    for _ in 0..35 {
        w.advance(Duration::minutes(20));
        assert!(w.people.session(&s.session_id).await.is_ok());
    }
    w.advance(Duration::minutes(20));
    let e = w.people.session(&s.session_id).await.unwrap_err();
    assert!(
        matches!(e, SessionError::Expired("the absolute timeout")),
        "{e:?}"
    );
    assert!(
        w.has_audit("ana", "session.expire", "the absolute timeout")
            .await
    );
}

async fn each_sign_in_gets_a_new_session_id(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let a = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    let b = w
        .people
        .sign_in("ana", &password("ana"), &w.fresh_code(&secret), ip(1))
        .await
        .unwrap();
    assert_ne!(a.session_id.expose(), b.session_id.expose());
    assert_eq!(a.session_id.expose().len(), 43);
    assert_eq!(w.people.session(&b.session_id).await.unwrap().user, "ana");
    let forged = SessionId::generate();
    assert!(matches!(
        w.people.session(&forged).await,
        Err(SessionError::Unknown)
    ));
    let export = w.export().await;
    assert!(!export.contains(a.session_id.expose()) && !export.contains(b.session_id.expose()));
}

async fn sign_out_ends_the_session(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    w.people.sign_out(&s.session_id).await.unwrap();
    assert!(matches!(
        w.people.session(&s.session_id).await,
        Err(SessionError::Unknown)
    ));
    w.people.sign_out(&s.session_id).await.unwrap();
    assert!(w.has_audit("ana", "session.sign_out", "ok").await);
    assert_eq!(
        w.audit()
            .await
            .iter()
            .filter(|e| e.1 == "session.sign_out")
            .count(),
        1
    );
}

async fn user_changes_need_a_reauthentication_within_five_minutes(backend: Backend) {
    let w = World::new(backend).await;
    let admin_secret = w.add("ada", Role::Admin).await;
    let drafter_secret = w.add("dan", Role::Drafter).await;
    w.add("vic", Role::Viewer).await;
    let s = w
        .people
        .sign_in("ada", &password("ada"), &w.code(&admin_secret, 0), ip(1))
        .await
        .unwrap();
    let session = w.people.session(&s.session_id).await.unwrap();
    w.people
        .set_role(Caller::Session(&session), "vic", Role::Drafter)
        .await
        .unwrap();

    w.advance(Duration::minutes(6));
    let session = w.people.session(&s.session_id).await.unwrap();
    let e = w
        .people
        .set_role(Caller::Session(&session), "vic", Role::Approver)
        .await
        .unwrap_err();
    assert!(
        matches!(e, PeopleError::Access(AccessError::ReauthenticationNeeded)),
        "{e:?}"
    );
    assert!(
        w.has_audit("ada", "user.role", "refused: re-authentication needed")
            .await
    );

    let wrong = w
        .people
        .reauthenticate(
            &s.session_id,
            &SecretString::from("wrong password again"),
            &w.fresh_code(&admin_secret),
            ip(1),
        )
        .await;
    assert!(matches!(wrong, Err(SignInError::WrongCredentials)));
    let session = w
        .people
        .reauthenticate(
            &s.session_id,
            &password("ada"),
            &w.fresh_code(&admin_secret),
            ip(1),
        )
        .await
        .unwrap();
    assert!(w.has_audit("ada", "session.reauthenticate", "ok").await);
    w.people
        .set_role(Caller::Session(&session), "vic", Role::Approver)
        .await
        .unwrap();
    assert!(w.has_audit("ada", "user.role", "approver").await);

    // A drafter may not, however fresh their session.
    let d = w
        .people
        .sign_in("dan", &password("dan"), &w.code(&drafter_secret, 0), ip(2))
        .await
        .unwrap();
    let e = w
        .people
        .disable_user(Caller::Session(&d.session), "vic")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            PeopleError::Access(AccessError::Forbidden {
                role: Role::Drafter
            })
        ),
        "{e:?}"
    );
    assert!(w.has_audit("dan", "user.disable", "refused: role").await);
    assert!(matches!(
        w.people.list_users(Caller::Session(&d.session)).await,
        Err(PeopleError::Access(AccessError::Forbidden { .. }))
    ));
    // Re-authenticating an ended session is refused.
    w.people.sign_out(&s.session_id).await.unwrap();
    let ended = w
        .people
        .reauthenticate(
            &s.session_id,
            &password("ada"),
            &w.fresh_code(&admin_secret),
            ip(1),
        )
        .await;
    assert!(matches!(ended, Err(SignInError::SessionEnded)));
}

async fn a_disabled_user_cannot_sign_in_and_loses_open_sessions(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Approver).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    w.people.disable_user(OPERATOR, "ana").await.unwrap();
    assert!(matches!(
        w.people.session(&s.session_id).await,
        Err(SessionError::Unknown)
    ));
    let again = w
        .people
        .sign_in("ana", &password("ana"), &w.fresh_code(&secret), ip(1))
        .await;
    assert!(matches!(again, Err(SignInError::WrongCredentials)));
    assert!(
        w.has_audit("cli:test", "user.disable", "1 sessions ended")
            .await
    );
    assert!(
        w.has_audit("ana", "session.sign_in", "refused: user disabled")
            .await
    );
    let users = w.people.list_users(OPERATOR).await.unwrap();
    assert!(users
        .iter()
        .any(|u| u.name == "ana" && u.disabled_at.is_some()));
    assert!(matches!(
        w.people.disable_user(OPERATOR, "ghost").await,
        Err(PeopleError::NoUser(_))
    ));
}

async fn a_role_change_applies_to_open_sessions_at_once(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Approver).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    assert_eq!(s.session.role, Role::Approver);
    w.people
        .set_role(OPERATOR, "ana", Role::Viewer)
        .await
        .unwrap();
    assert_eq!(
        w.people.session(&s.session_id).await.unwrap().role,
        Role::Viewer
    );
    assert!(w.has_audit("cli:test", "user.role", "viewer").await);
}

async fn an_enrolment_link_takes_effect_only_with_the_persons_password_and_a_code(
    backend: Backend,
) {
    let w = World::new(backend).await;
    let invite = w
        .people
        .add_user(OPERATOR, "bob", Role::Viewer)
        .await
        .unwrap();
    let state = |users: &[tocsin_app::people::UserSummary], name: &str| {
        users
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.second_factor)
    };
    let users = w.people.list_users(OPERATOR).await.unwrap();
    assert_eq!(state(&users, "bob"), Some("none"));
    // No password and no second factor yet: no sign-in, whatever is typed.
    assert!(matches!(
        w.people
            .sign_in("bob", &password("bob"), "123456", ip(1))
            .await,
        Err(SignInError::WrongCredentials)
    ));
    let start = w
        .people
        .begin_enrolment(invite.token.expose())
        .await
        .unwrap();
    assert_eq!(start.name, "bob");
    assert!(start.qr_svg.expose_secret().contains("<svg"));
    assert!(start.totp.otpauth_uri.expose_secret().contains("bob"));
    let secret = start.totp.secret_base32.expose_secret().to_string();
    assert!(matches!(
        w.people
            .complete_enrolment(invite.token.expose(), password("bob"), "000000")
            .await,
        Err(PeopleError::WrongCode)
    ));
    assert!(
        w.has_audit("bob", "user.enrol", "refused: wrong code")
            .await
    );
    w.people
        .complete_enrolment(invite.token.expose(), password("bob"), &w.code(&secret, 0))
        .await
        .unwrap();
    let users = w.people.list_users(OPERATOR).await.unwrap();
    assert_eq!(state(&users, "bob"), Some("active"));
    assert!(
        w.has_audit("bob", "user.enrol", "password and second factor set")
            .await
    );
    // The confirming code is used up; the next one signs in.
    assert!(w
        .people
        .sign_in("bob", &password("bob"), &w.code(&secret, 0), ip(1))
        .await
        .is_err());
    let next = w.fresh_code(&secret);
    w.people
        .sign_in("bob", &password("bob"), &next, ip(1))
        .await
        .unwrap();
    let export = w.export().await;
    assert!(
        !export.contains(invite.token.expose()),
        "the token stays out"
    );
    assert!(!export.contains(&secret), "the secret stays out");
}

async fn an_enrolment_link_works_once_and_for_24_hours(backend: Backend) {
    let w = World::new(backend).await;
    let used = w
        .people
        .add_user(OPERATOR, "bob", Role::Viewer)
        .await
        .unwrap();
    let start = w.people.begin_enrolment(used.token.expose()).await.unwrap();
    let code = w.code(start.totp.secret_base32.expose_secret(), 0);
    w.people
        .complete_enrolment(used.token.expose(), password("bob"), &code)
        .await
        .unwrap();
    assert!(matches!(
        w.people.begin_enrolment(used.token.expose()).await,
        Err(PeopleError::EnrolmentLink)
    ));
    let late = w
        .people
        .add_user(OPERATOR, "cy", Role::Viewer)
        .await
        .unwrap();
    w.advance(Duration::hours(24) - Duration::seconds(1));
    w.people.begin_enrolment(late.token.expose()).await.unwrap();
    w.advance(Duration::seconds(1));
    assert!(matches!(
        w.people.begin_enrolment(late.token.expose()).await,
        Err(PeopleError::EnrolmentLink)
    ));
    // A new link replaces the earlier one.
    let first = w
        .people
        .add_user(OPERATOR, "dee", Role::Viewer)
        .await
        .unwrap();
    let second = w.people.reset_totp(OPERATOR, "dee").await.unwrap();
    assert!(matches!(
        w.people.begin_enrolment(first.token.expose()).await,
        Err(PeopleError::EnrolmentLink)
    ));
    w.people
        .begin_enrolment(second.token.expose())
        .await
        .unwrap();
    for bad in ["", "short", &"a".repeat(43)] {
        assert!(matches!(
            w.people.begin_enrolment(bad).await,
            Err(PeopleError::EnrolmentLink)
        ));
    }
}

async fn a_reset_gives_a_new_link_and_the_old_factor_stops_working(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    let invite = w.people.reset_totp(OPERATOR, "ana").await.unwrap();
    assert!(matches!(
        w.people.session(&s.session_id).await,
        Err(SessionError::Unknown)
    ));
    let old = w.fresh_code(&secret);
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &old, ip(1))
        .await
        .is_err());
    let start = w
        .people
        .begin_enrolment(invite.token.expose())
        .await
        .unwrap();
    let fresh = start.totp.secret_base32.expose_secret().to_string();
    let new_password: SecretString = "a brand new passphrase for ana".to_string().into();
    w.people
        .complete_enrolment(
            invite.token.expose(),
            new_password.clone(),
            &w.code(&fresh, 0),
        )
        .await
        .unwrap();
    let next = w.fresh_code(&fresh);
    w.people
        .sign_in("ana", &new_password, &next, ip(1))
        .await
        .unwrap();
}

async fn a_person_changes_their_own_password_with_the_current_one(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let here = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    let code = w.fresh_code(&secret);
    let elsewhere = w
        .people
        .sign_in("ana", &password("ana"), &code, ip(2))
        .await
        .unwrap();
    let new: SecretString = "my own new passphrase 2026".to_string().into();
    let wrong: SecretString = "not the current one at all".to_string().into();
    assert!(matches!(
        w.people
            .change_password(&here.session_id, &wrong, new.clone(), ip(1))
            .await,
        Err(PeopleError::WrongPassword)
    ));
    assert!(
        w.has_audit(
            "ana",
            "user.password_change",
            "refused: wrong current password"
        )
        .await
    );
    assert!(matches!(
        w.people
            .change_password(
                &here.session_id,
                &password("ana"),
                "password1234".to_string().into(),
                ip(1)
            )
            .await,
        Err(PeopleError::Password(_))
    ));
    assert!(matches!(
        w.people
            .change_password(&here.session_id, &password("ana"), password("ana"), ip(1))
            .await,
        Err(PeopleError::Password(_))
    ));
    w.people
        .change_password(&here.session_id, &password("ana"), new.clone(), ip(1))
        .await
        .unwrap();
    assert!(
        w.has_audit("ana", "user.password_change", "ok; 1 other sessions ended")
            .await
    );
    w.people.session(&here.session_id).await.unwrap();
    assert!(matches!(
        w.people.session(&elsewhere.session_id).await,
        Err(SessionError::Unknown)
    ));
    let code = w.fresh_code(&secret);
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await
        .is_err());
    let code = w.fresh_code(&secret);
    w.people.sign_in("ana", &new, &code, ip(1)).await.unwrap();
    assert!(!w.export().await.contains("my own new passphrase"));
}

async fn a_person_reenrols_their_second_factor_after_reauthenticating(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    let s = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    w.advance(Duration::minutes(6));
    let session = w.people.session(&s.session_id).await.unwrap();
    assert!(matches!(
        w.people.begin_totp_reenrolment(&session).await,
        Err(PeopleError::Access(AccessError::ReauthenticationNeeded))
    ));
    let code = w.fresh_code(&secret);
    let session = w
        .people
        .reauthenticate(&s.session_id, &password("ana"), &code, ip(1))
        .await
        .unwrap();
    let start = w.people.begin_totp_reenrolment(&session).await.unwrap();
    assert!(start.qr_svg.expose_secret().contains("<svg"));
    let fresh = start.totp.secret_base32.expose_secret().to_string();
    // Until confirmed, the old factor still works.
    let code = w.fresh_code(&secret);
    w.people
        .sign_in("ana", &password("ana"), &code, ip(1))
        .await
        .unwrap();
    assert!(matches!(
        w.people.confirm_totp_reenrolment(&session, "000000").await,
        Err(PeopleError::WrongCode)
    ));
    w.people
        .confirm_totp_reenrolment(&session, &w.code(&fresh, 0))
        .await
        .unwrap();
    assert!(w.has_audit("ana", "user.totp_reenrol", "ok").await);
    let old = w.fresh_code(&secret);
    assert!(w
        .people
        .sign_in("ana", &password("ana"), &old, ip(1))
        .await
        .is_err());
    let new = w.code(&fresh, 0);
    w.people
        .sign_in("ana", &password("ana"), &new, ip(1))
        .await
        .unwrap();
}

async fn the_audit_log_records_each_step_without_any_secret(backend: Backend) {
    let w = World::new(backend).await;
    let admin_secret = w.add("ada", Role::Admin).await;
    let secret = w.add("ana", Role::Drafter).await;
    let _ = w
        .people
        .sign_in(
            "ana",
            &SecretString::from("canary-wrong-guess-1"),
            &w.code(&secret, 0),
            ip(1),
        )
        .await;
    let a = w
        .people
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap();
    let admin = w
        .people
        .sign_in("ada", &password("ada"), &w.code(&admin_secret, 0), ip(2))
        .await
        .unwrap();
    let session = w.people.session(&admin.session_id).await.unwrap();
    w.people
        .set_role(Caller::Session(&session), "ana", Role::Approver)
        .await
        .unwrap();
    w.people
        .disable_user(Caller::Session(&session), "ana")
        .await
        .unwrap();
    w.people.sign_out(&admin.session_id).await.unwrap();

    let actions: Vec<(String, String)> = w
        .audit()
        .await
        .into_iter()
        .map(|(a, b, _)| (a, b))
        .collect();
    for (actor, action) in [
        ("cli:test", "user.add"),
        ("cli:test", "user.enrolment_link"),
        ("ana", "user.enrol"),
        ("ana", "session.sign_in"),
        ("ada", "session.sign_in"),
        ("ada", "user.role"),
        ("ada", "user.disable"),
        ("ada", "session.sign_out"),
    ] {
        assert!(
            actions.contains(&(actor.to_string(), action.to_string())),
            "{actor} {action}: {actions:?}"
        );
    }
    let export = w.export().await;
    for canary in [
        password("ana").expose_secret().to_string(),
        password("ada").expose_secret().to_string(),
        "canary-wrong-guess-1".to_string(),
        secret.clone(),
        admin_secret.clone(),
        a.session_id.expose().to_string(),
        admin.session_id.expose().to_string(),
        "argon2".to_string(),
    ] {
        assert!(!export.contains(&canary), "the export holds `{canary}`");
    }
}

async fn a_sealed_secret_opens_only_with_its_key_and_its_user(backend: Backend) {
    let w = World::new(backend).await;
    let secret = w.add("ana", Role::Drafter).await;
    w.add("bob", Role::Drafter).await;
    let ana = w.db.store.people().record("ana").await.unwrap().unwrap();
    let bob = w.db.store.people().record("bob").await.unwrap().unwrap();
    let sealed = ana.totp_secret_sealed.clone().unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));
    assert!(w.key.open(&sealed, &totp_aad(ana.id)).is_ok());
    assert!(w.key.open(&sealed, &totp_aad(bob.id)).is_err());
    assert!(SealingKey::generate()
        .open(&sealed, &totp_aad(ana.id))
        .is_err());
    // A server started with another key cannot check codes: sign-in is unavailable, and
    // the answer says nothing about why.
    let other = World::people_with(&w.db, std::sync::Arc::new(SealingKey::generate()));
    let e = other
        .sign_in("ana", &password("ana"), &w.code(&secret, 0), ip(1))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SignInError::Unavailable(PeopleError::Seal(_))),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "sign-in is unavailable right now; try again");
}

async fn bad_input_is_refused_with_a_clear_message(backend: Backend) {
    let w = World::new(backend).await;
    let invite = w
        .people
        .add_user(OPERATOR, "eve", Role::Drafter)
        .await
        .unwrap();
    let start = w
        .people
        .begin_enrolment(invite.token.expose())
        .await
        .unwrap();
    let code = w.code(start.totp.secret_base32.expose_secret(), 0);
    let e = w
        .people
        .complete_enrolment(invite.token.expose(), "short".to_string().into(), &code)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 12"), "{e}");
    let e = w
        .people
        .complete_enrolment(
            invite.token.expose(),
            "password1234".to_string().into(),
            &code,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("most common"), "{e}");
    let e = w
        .people
        .add_user(OPERATOR, "ana:x", Role::Drafter)
        .await
        .unwrap_err();
    assert!(matches!(e, PeopleError::BadName));
    w.add("ana", Role::Drafter).await;
    let e = w
        .people
        .add_user(OPERATOR, "ana", Role::Drafter)
        .await
        .unwrap_err();
    assert!(matches!(e, PeopleError::NameTaken(_)), "{e:?}");
    for (name, code) in [
        ("ana\n", "123456"),
        ("ana", "12345a"),
        ("ana", ""),
        (&*"x".repeat(500), "123456"),
    ] {
        let e = w
            .people
            .sign_in(name, &password("ana"), code, ip(3))
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::WrongCredentials), "{e:?}");
    }
    let long = SecretString::from("p".repeat(10_000));
    let e = w
        .people
        .sign_in("ana", &long, "123456", ip(4))
        .await
        .unwrap_err();
    assert!(matches!(e, SignInError::WrongCredentials));
}

async fn an_admin_cannot_disable_themselves_nor_leave_tocsin_without_an_admin(backend: Backend) {
    let w = World::new(backend).await;
    let ada = w.add("ada", Role::Admin).await;
    w.add("ana", Role::Drafter).await;
    let signed = w
        .people
        .sign_in("ada", &password("ada"), &w.code(&ada, 0), ip(1))
        .await
        .unwrap();
    let session = w.people.session(&signed.session_id).await.unwrap();
    let me = Caller::Session(&session);
    // Her own account: refused whether or not other admins exist.
    let e = w.people.disable_user(me, "ada").await.unwrap_err();
    assert!(matches!(e, PeopleError::SelfDisable), "{e:?}");
    assert!(
        w.has_audit("ada", "user.disable", "refused: their own account")
            .await
    );
    // The last admin cannot be demoted, by herself or from the command line.
    let e = w
        .people
        .set_role(me, "ada", Role::Approver)
        .await
        .unwrap_err();
    assert!(
        matches!(e, PeopleError::LastAdmin(ref n) if n == "ada"),
        "{e:?}"
    );
    let e = w
        .people
        .set_role(OPERATOR, "ada", Role::Viewer)
        .await
        .unwrap_err();
    assert!(matches!(e, PeopleError::LastAdmin(_)), "{e:?}");
    let e = w.people.disable_user(OPERATOR, "ada").await.unwrap_err();
    assert!(matches!(e, PeopleError::LastAdmin(_)), "{e:?}");
    assert!(
        w.has_audit("cli:test", "user.role", "refused: the last admin")
            .await
    );
    assert_eq!(
        w.people
            .list_users(OPERATOR)
            .await
            .unwrap()
            .iter()
            .find(|u| u.name == "ada")
            .map(|u| (u.role, u.disabled_at.is_none())),
        Some((Role::Admin, true)),
        "nothing changed"
    );
    // With a second admin, the first may step down (and be disabled by the other).
    w.people.set_role(me, "ana", Role::Admin).await.unwrap();
    w.people.set_role(me, "ada", Role::Approver).await.unwrap();
    let e = w.people.disable_user(OPERATOR, "ana").await.unwrap_err();
    assert!(
        matches!(e, PeopleError::LastAdmin(_)),
        "ana is now the only admin: {e:?}"
    );
}

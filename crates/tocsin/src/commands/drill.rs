//! `tocsin drill`: rehearse a playbook end to end with nobody reached. The message is
//! rendered, checked, recorded as an exercise, fanned out by the real dispatcher to
//! sandbox accounts that stand in for every platform (each gets its platform's text),
//! watched delivery by delivery, and optionally retracted everywhere. Every step lands
//! in the audit log marked as an exercise.

use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::http::printable;
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_dispatch::{AccountRoute, DeliveryEventKind, DispatchConfig, Dispatcher, Routes};
use tocsin_domain::audience::TargetSpec;
use tocsin_domain::compose::ComposeOptions;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::outbox::{MessageTargets, Placement, RetractMode, Retraction};
use tocsin_store::{NewAccount, NewDraft, NewMessage, RenderedVariant, Store};

use crate::cli::DrillArgs;
use crate::commands::drill_audience::{describe, reach, spec_for, DrillReach};
use crate::commands::playbooks::{composer, load, loaded, read_vars};
use crate::config::Config;
use crate::store::{block_on, open_store};

/// The platforms a drill's sandbox accounts stand in for: every platform accounts are
/// connected on.
pub(crate) fn stand_ins() -> Vec<Platform> {
    tocsin_connectors::ALL.iter().map(|d| d.platform).collect()
}

/// A drill account's handle: `sandbox:<platform>`.
fn handle(platform: Platform) -> String {
    format!("sandbox:{}", platform.as_str())
}

/// One post of a drill: a step and its approved texts.
struct DrillPost {
    step: String,
    headline: String,
    variants: Vec<RenderedVariant>,
}

/// The drill's images, checked as an upload is (by content, size and dimensions, then
/// stripped), each with its description, which is required, read by the PHI guard and
/// held to every platform's rules, as a draft's is at preview.
fn drill_images(
    args: &DrillArgs,
    composer: &tocsin_domain::compose::Composer,
) -> Result<Vec<(tocsin_app::images::check::CheckedImage, String)>> {
    use tocsin_app::images::{check, platform_problem, ImageFacts, MAX_IMAGES_PER_DRAFT};
    if args.images.len() > MAX_IMAGES_PER_DRAFT {
        bail!(
            "a message carries {MAX_IMAGES_PER_DRAFT} images at most; --image was given {} times",
            args.images.len()
        );
    }
    if args.alts.len() != args.images.len() {
        bail!(
            "every --image needs its --alt description, in the same order: {} image(s), {} description(s)",
            args.images.len(),
            args.alts.len()
        );
    }
    let mut out = Vec::new();
    for (n, (path, alt)) in args.images.iter().zip(&args.alts).enumerate() {
        let shown = path.display();
        let bytes = std::fs::read(path).map_err(|e| anyhow!("--image {shown}: {e}"))?;
        let checked = check::check_upload(&bytes).map_err(|e| anyhow!("--image {shown}: {e}"))?;
        let alt = alt.trim();
        if alt.is_empty() {
            bail!("--image {shown} has no description: give what it shows with --alt");
        }
        if let Some(hit) = composer.guard().check(alt, &[]).first() {
            bail!(
                "the description of --image {shown} may hold protected health information ({}): in a real alert an approver would have to override it",
                hit.family.description()
            );
        }
        let facts = ImageFacts {
            number: n + 1,
            count: args.images.len(),
            media_type: checked.kind.media_type(),
            bytes: checked.bytes.len() as u64,
            width: checked.width,
            height: checked.height,
            alt,
        };
        if let Some((_, why)) = platform_problem(&facts, &stand_ins()) {
            bail!("--image {shown}: {why}");
        }
        out.push((checked, alt.to_string()));
    }
    Ok(out)
}

/// Runs a drill.
pub fn run(config: &Config, args: &DrillArgs) -> Result<ExitCode> {
    let library = load(&config.playbooks_dir, &config.templates_dir)?;
    let playbook = loaded(&library, &args.id)?;
    let steps: Vec<String> = if args.step.is_empty() {
        playbook
            .steps
            .first()
            .map(|s| vec![s.id.clone()])
            .ok_or_else(|| anyhow!("playbook has no steps"))?
    } else {
        args.step.clone()
    };
    let mut values = playbook.example_values();
    values.extend(read_vars(&args.values)?);
    let composer = composer(config, &library)?;
    let mut posts = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let number = playbook
            .session
            .as_ref()
            .map(|_| u32::try_from(n + 1).unwrap_or(u32::MAX));
        let composed = composer
            .compose(
                playbook,
                step,
                &values,
                &stand_ins(),
                ComposeOptions {
                    post_number: number,
                },
            )
            .map_err(|e| anyhow!("{}: {e}", playbook.id))?;
        if composed.is_blocked() {
            for v in &composed.variants {
                for p in v.blocking_problems() {
                    eprintln!("{} / {}: {p}", step, v.target);
                }
            }
            bail!("the message is blocked (see above): in a real alert an approver would have to override it");
        }
        posts.push(DrillPost {
            step: step.clone(),
            headline: composed.headline.clone(),
            variants: composed
                .variants
                .iter()
                .map(|v| RenderedVariant {
                    target: TextTarget::Variant(v.target),
                    body: v.text.clone(),
                })
                .collect(),
        });
    }
    // Where a platform cannot delete (email, SMS, Teams), a retraction sends the
    // playbook's withdrawal notice instead: composed up front, as it would be approved.
    let cannot_delete: Vec<Platform> = stand_ins()
        .into_iter()
        .filter(|p| tocsin_connectors::descriptor(*p).is_some_and(|d| !d.capabilities.delete))
        .collect();
    let notice = if args.retract {
        composer
            .compose_retraction(playbook, &values, &cannot_delete)
            .map_err(|e| anyhow!("{}: withdrawal notice: {e}", playbook.id))?
            .map(|composed| DrillPost {
                step: tocsin_domain::playbook::RETRACTION_STEP.to_string(),
                headline: composed.headline.clone(),
                variants: composed
                    .variants
                    .iter()
                    .map(|v| RenderedVariant {
                        target: TextTarget::Variant(v.target),
                        body: v.text.clone(),
                    })
                    .collect(),
            })
    } else {
        None
    };
    let images = drill_images(args, &composer)?;
    let actor = args
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "drill".into());
    println!("EXERCISE drill of {}: {} post(s)", playbook.id, posts.len());
    let code = block_on(async {
        let store = open_store(config).await?;
        let result = drive(
            &store,
            &DrillRun {
                library: &library,
                playbook,
                values: &values,
                posts: &posts,
                actor: &actor,
                groups: &args.groups,
                retract: args.retract.then_some(notice.as_ref()),
                images: &images,
            },
        )
        .await;
        store.close().await;
        result
    })??;
    Ok(code)
}

/// What one drill does: the posts to make, for whom, and whether to retract them.
struct DrillRun<'a> {
    library: &'a tocsin_domain::library::Library,
    playbook: &'a tocsin_domain::playbook::Playbook,
    values: &'a BTreeMap<String, String>,
    posts: &'a [DrillPost],
    actor: &'a str,
    /// The groups given with `--group` (none: each step's audience).
    groups: &'a [String],
    /// Retract once out, with the withdrawal notice where a platform cannot delete.
    retract: Option<Option<&'a DrillPost>>,
    /// Images checked and stripped, each with its description.
    images: &'a [(tocsin_app::images::check::CheckedImage, String)],
}

async fn drive(store: &Store, run: &DrillRun<'_>) -> Result<ExitCode> {
    let DrillRun {
        library,
        playbook,
        values,
        posts,
        actor,
        groups,
        retract,
        images,
    } = *run;
    for (image, _) in images {
        let new = store
            .images()
            .put(
                actor,
                &tocsin_store::images::NewImage {
                    sha256: image.sha256.clone(),
                    media_type: image.kind.media_type().to_string(),
                    width: image.width,
                    height: image.height,
                    bytes: image.bytes.clone(),
                },
            )
            .await?;
        println!(
            "image {} ({}, {}x{}, {} bytes, metadata stripped){}",
            image.sha256,
            image.kind.media_type(),
            image.width,
            image.height,
            image.bytes.len(),
            if new { "" } else { ", already stored" }
        );
    }
    let log = Arc::new(SandboxLog::default());
    let routes = Arc::new(Routes::new());
    let existing = store.accounts().list().await?;
    let known_groups = tocsin_app::catalog::known_groups(store, library).await?;
    let is_stand_in = |a: &tocsin_store::Account| {
        a.sandbox && a.stands_for.is_some_and(|p| a.handle == handle(p))
    };
    // Who each post reaches, on sandbox accounts only.
    let mut reached: Vec<(TargetSpec, Vec<(i64, Platform)>)> = Vec::new();
    let mut stand_in_ids: BTreeMap<Platform, i64> = BTreeMap::new();
    for post in posts {
        let audience = playbook.audience_of(&post.step);
        let spec = spec_for(groups, audience);
        let reach = reach(&spec, &existing, &known_groups, audience, &is_stand_in)?;
        let platforms = match &reach {
            DrillReach::SandboxAccounts(accounts) => {
                println!(
                    "{} / {}: {} reach {} sandbox account(s) in those groups",
                    playbook.id,
                    post.step,
                    describe(&spec),
                    accounts.len()
                );
                reached.push((spec, accounts.clone()));
                continue;
            }
            DrillReach::StandIns(platforms) => {
                println!(
                    "{} / {}: no sandbox account is in {}; the drill stands in for the platforms they reach: {}",
                    playbook.id,
                    post.step,
                    describe(&spec),
                    platforms.iter().map(|p| p.display_name()).collect::<Vec<_>>().join(", ")
                );
                platforms.clone()
            }
            DrillReach::Everywhere => {
                println!(
                    "{} / {}: no account is in {}; the drill stands in for every platform",
                    playbook.id,
                    post.step,
                    describe(&spec)
                );
                stand_ins()
            }
        };
        let mut accounts = Vec::new();
        for platform in platforms {
            let id = match stand_in_ids.get(&platform) {
                Some(id) => *id,
                None => {
                    let id = stand_in(store, actor, &existing, platform).await?;
                    stand_in_ids.insert(platform, id);
                    id
                }
            };
            accounts.push((id, platform));
        }
        reached.push((spec, accounts));
    }
    let accounts: BTreeMap<i64, Platform> = reached
        .iter()
        .flat_map(|(_, a)| a.iter().copied())
        .collect();
    for (id, platform) in &accounts {
        let connector = Arc::new(SandboxConnector::standing_for(
            &id.to_string(),
            log.clone(),
            *platform,
        ));
        routes.insert(
            *id,
            AccountRoute {
                connector,
                host: "sandbox".into(),
                languages: Default::default(),
                counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                images: None,
            },
        );
    }
    let dispatcher = Dispatcher::new(
        store.clone(),
        routes,
        DispatchConfig {
            node_id: "drill".into(),
            ..DispatchConfig::default()
        },
    );
    let mut events = dispatcher.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let d = dispatcher.clone();
        tokio::spawn(async move {
            d.run(async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let names = &accounts;
    let session = match &playbook.session {
        Some(s) => {
            let tag = values.get(&s.hashtag_variable).cloned().unwrap_or_default();
            let mut tx = store.begin().await?;
            let id = tx
                .live_sessions()
                .create(
                    actor,
                    &playbook.id,
                    &playbook.title,
                    tag.trim_start_matches('#'),
                    true,
                )
                .await?;
            tx.commit().await?;
            println!(
                "live session {id} under #{}: each post replies to the account's previous one",
                tag.trim_start_matches('#')
            );
            Some(id)
        }
        None => None,
    };
    let mut messages = Vec::new();
    for (post, (spec, reach)) in posts.iter().zip(&reached) {
        let mut per_platform: BTreeMap<Platform, usize> = BTreeMap::new();
        for (_, p) in reach {
            *per_platform.entry(*p).or_default() += 1;
        }
        let draft = store
            .drafts()
            .insert(&NewDraft {
                playbook_id: playbook.id.clone(),
                step_id: post.step.clone(),
                content_hash: library.content_hash(&playbook.id).unwrap_or_default(),
                variables_json: serde_json::to_string(values)?,
                created_by: actor.to_string(),
                exercise: true,
                variants: post.variants.clone(),
            })
            .await?;
        let mut tx = store.begin().await?;
        let message = tx
            .outbox()
            .place_message(
                &NewMessage {
                    draft_id: draft,
                    approved_by: actor.to_string(),
                    exercise: true,
                    break_glass: false,
                    variants: post.variants.clone(),
                    account_ids: reach.iter().map(|(id, _)| *id).collect(),
                    targets: Some(MessageTargets {
                        spec: spec.clone(),
                        per_platform,
                    }),
                },
                &Placement {
                    title: Some(post.headline.clone()),
                    session_id: session,
                    ..Placement::default()
                },
            )
            .await?;
        tx.images()
            .attach(
                message,
                &images
                    .iter()
                    .map(|(i, alt)| tocsin_store::images::MessageImage {
                        sha256: i.sha256.clone(),
                        alt: alt.clone(),
                        square: None,
                    })
                    .collect::<Vec<_>>(),
            )
            .await?;
        tx.commit().await?;
        dispatcher.wake();
        println!("\n{} / {}: message {message} approved as an exercise by {actor}; sending to {} sandbox accounts", playbook.id, post.step, reach.len());
        watch(store, &mut events, message, names, &|_| "delivered").await?;
        print_grid(store, message, names, &log).await?;
        messages.push(message);
    }
    if let Some(notice) = retract {
        let cannot_delete: BTreeSet<i64> = accounts
            .iter()
            .filter(|(_, p)| {
                tocsin_connectors::descriptor(**p).is_some_and(|d| !d.capabilities.delete)
            })
            .map(|(id, _)| *id)
            .collect();
        let no_text = Vec::new();
        let reason = "drill: retract everywhere";
        for message in &messages {
            let mut tx = store.begin().await?;
            let summary = tx
                .outbox()
                .retract_message(
                    actor,
                    *message,
                    &Retraction {
                        mode: RetractMode::Delete,
                        draft_id: None,
                        title: notice.map(|n| n.headline.clone()),
                        variants: notice.map_or(&no_text, |n| &n.variants),
                        cannot_delete: &cannot_delete,
                        break_glass: false,
                        reason,
                    },
                )
                .await?;
            tx.commit().await?;
            dispatcher.wake();
            println!(
                "\nretracting message {message} everywhere ({} accounts: {} get the withdrawal notice, their platform cannot delete)",
                summary.targeted, summary.notices
            );
            let done = |account: i64| {
                if cannot_delete.contains(&account) {
                    "notice sent"
                } else {
                    "deleted"
                }
            };
            watch(
                store,
                &mut events,
                summary.retraction_message_id,
                names,
                &done,
            )
            .await?;
            print_grid(store, *message, names, &log).await?;
        }
    }
    let _ = stop.send(());
    let _ = running.await;
    println!("\nEvery step above is in the audit log, marked as an exercise: `tocsin audit tail --no-follow`.");
    Ok(ExitCode::SUCCESS)
}

/// The drill's own stand-in for `platform` (`sandbox:<platform>`, in no group), made
/// the first time a drill needs it.
async fn stand_in(
    store: &Store,
    actor: &str,
    existing: &[tocsin_store::Account],
    platform: Platform,
) -> Result<i64> {
    if let Some(a) = existing
        .iter()
        .find(|a| a.sandbox && a.handle == handle(platform))
    {
        return Ok(a.id);
    }
    Ok(store
        .accounts()
        .add(
            actor,
            &NewAccount {
                platform: Platform::Sandbox,
                stands_for: Some(platform),
                handle: handle(platform),
                display_name: format!("Drill · {}", platform.display_name()),
                sandbox: true,
                groups: Vec::new(),
            },
        )
        .await?)
}

/// Prints delivery events for `message` until all its deliveries are settled;
/// `done` names what a delivery means for an account here ("delivered", "deleted",
/// "notice sent").
async fn watch(
    store: &Store,
    events: &mut tokio::sync::broadcast::Receiver<tocsin_dispatch::DeliveryEvent>,
    message: i64,
    names: &BTreeMap<i64, Platform>,
    done: &dyn Fn(i64) -> &'static str,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let show = |e: &tocsin_dispatch::DeliveryEvent| {
        if e.message_id != message {
            return;
        }
        let who = names.get(&e.account_id).map_or("?", |p| p.display_name());
        let what = match &e.kind {
            DeliveryEventKind::Delivered { url, .. } => {
                format!("{} {}", done(e.account_id), url.as_deref().unwrap_or(""))
            }
            DeliveryEventKind::Sending { attempt } => format!("sending (attempt {attempt})"),
            DeliveryEventKind::Retrying { error, .. } => format!("retrying: {error}"),
            DeliveryEventKind::Failed { error, .. } => format!("FAILED: {error}"),
            other => format!("{other:?}").to_lowercase(),
        };
        println!("  {who:<16} {what}");
    };
    loop {
        while let Ok(e) = events.try_recv() {
            show(&e);
        }
        let settled = store
            .messages()
            .deliveries(message)
            .await?
            .iter()
            .all(|d| d.state.is_settled());
        if settled {
            // Results are published just after their commit: show the last ones too.
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(e) = events.try_recv() {
                show(&e);
            }
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => bail!("deliveries of message {message} did not settle within 60 s"),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => bail!("event stream ended: {e}"),
            Ok(Ok(e)) => show(&e),
        }
    }
}

async fn print_grid(
    store: &Store,
    message: i64,
    names: &BTreeMap<i64, Platform>,
    log: &SandboxLog,
) -> Result<()> {
    println!(
        "\n{:<16} {:<10} {:>8}  {:<28} TEXT",
        "ACCOUNT", "STATE", "ATTEMPTS", "LINK"
    );
    for d in store.messages().deliveries(message).await? {
        let platform = names.get(&d.account_id).copied();
        let post = log
            .posts_for(&d.account_id.to_string())
            .into_iter()
            .find(|p| Some(&p.id) == d.remote_id.as_ref());
        let text = post
            .as_ref()
            .map(|p| printable(&p.post.text))
            .unwrap_or_default();
        let thread = post
            .as_ref()
            .and_then(|p| p.post.reply_to.as_ref())
            .map(|r| format!(" (reply to {})", r.id))
            .unwrap_or_default();
        let short: String = text.chars().take(60).collect::<String>() + &thread;
        println!(
            "{:<16} {:<10} {:>8}  {:<28} {}",
            platform.map_or("?", |p| p.display_name()),
            d.state.as_str(),
            d.attempts,
            d.remote_url.unwrap_or_default(),
            short
        );
    }
    Ok(())
}

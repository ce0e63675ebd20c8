//! What the fuzz targets share: the repository's playbook library loaded once, a
//! composer configured like `tocsin.toml`, and a fixed audit key with a small real log
//! (the same key signs the `audit_verify` seeds, so mutations of them reach the
//! signature checks instead of stopping at an unknown key).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use tocsin_audit::{AuditEvent, ExportHeader, JsonlWriter, MemoryLog, NoteSigner, NoteVerifier};
use tocsin_domain::compose::Composer;
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};

/// The repository root (the fuzz crate lives in `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository's playbooks and templates, loaded once per process.
///
/// # Panics
/// When the directory cannot be read or a playbook does not load: the fuzz targets are
/// meaningless without the library, and `tocsin playbooks lint` in the test suite keeps
/// it whole.
pub fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let root = repo_root();
        let library = match Library::load(&root.join("playbooks"), &root.join("templates")) {
            Ok(l) => l,
            Err(e) => panic!("the repository's playbook library does not load: {e}"),
        };
        assert!(
            library.diagnostics().iter().all(|d| !d.is_error()),
            "the repository's playbooks have errors: {:?}",
            library.diagnostics()
        );
        library
    })
}

/// The allowed domains of the repository's `tocsin.toml` `[phi]` section.
pub const ALLOWED_DOMAINS: [&str; 8] = [
    "health.example.gov",
    "cdc.gov",
    "epa.gov",
    "airnow.gov",
    "weather.gov",
    "heat.gov",
    "who.int",
    "vaccines.gov",
];

/// The PHI guard configured as the repository's `tocsin.toml` configures it.
pub fn phi_guard() -> &'static PhiGuard {
    static GUARD: OnceLock<PhiGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let phi = PhiConfig {
            allowed_domains: ALLOWED_DOMAINS.iter().map(|d| d.to_string()).collect(),
            ..PhiConfig::default()
        };
        match PhiGuard::new(&phi) {
            Ok(g) => g,
            Err(e) => panic!("the PHI configuration is refused: {e}"),
        }
    })
}

/// A composer over the library's templates with [`phi_guard`] and the default limits.
pub fn composer() -> &'static Composer {
    static COMPOSER: OnceLock<Composer> = OnceLock::new();
    COMPOSER.get_or_init(|| {
        Composer::new(
            library().templates().clone(),
            phi_guard().clone(),
            PlatformLimits::default(),
            tocsin_connectors::counting_rules(),
        )
    })
}

/// The audit log's origin (and key name) used by the audit targets and their seeds.
pub const AUDIT_ORIGIN: &str = "fuzz.tocsin.example/audit";

/// A fixed signing key: the seeds in `corpus/audit_verify` are signed with it.
pub fn audit_signer() -> NoteSigner {
    NoteSigner::new(AUDIT_ORIGIN, SigningKey::from_bytes(&[7u8; 32]))
}

/// The verifier for [`audit_signer`].
pub fn audit_verifier() -> &'static NoteVerifier {
    static VERIFIER: OnceLock<NoteVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| audit_signer().verifier())
}

/// A fixed point in time the audit logs start from.
pub fn audit_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 14, 9, 30, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A full (unfiltered) JSONL export of `log`: header, then entries and checkpoints in
/// the order a real export interleaves them (each checkpoint after the entry it covers).
pub fn export_jsonl(log: &MemoryLog, signer: &NoteSigner) -> Vec<u8> {
    let header = ExportHeader {
        format: tocsin_audit::export::EXPORT_FORMAT.into(),
        origin: signer.name().to_string(),
        public_key: signer.verifier().to_string(),
        partial: false,
        filters: Default::default(),
        exported_at: "2026-07-15T00:00:00.000000Z".into(),
    };
    let mut notes: Vec<(u64, &str)> = log
        .checkpoints
        .iter()
        .filter_map(|note| {
            tocsin_audit::checkpoint::parse_unverified(note)
                .ok()
                .map(|c| (c.size, note.as_str()))
        })
        .collect();
    notes.sort_by_key(|(size, _)| *size);
    let mut notes = notes.into_iter().peekable();
    // Writing into a Vec cannot fail; an error here would be a bug in the writer.
    let write = || -> std::io::Result<Vec<u8>> {
        let mut w = JsonlWriter::start(Vec::new(), &header)?;
        while let Some((_, note)) = notes.next_if(|(size, _)| *size == 0) {
            w.checkpoint(note)?;
        }
        let mut prev = tocsin_audit::ChainHash::GENESIS;
        for (i, (entry, hash)) in log.entries.iter().enumerate() {
            w.entry(entry, &prev, hash)?;
            prev = *hash;
            let size = i as u64 + 1;
            while let Some((_, note)) = notes.next_if(|(s, _)| *s <= size) {
                w.checkpoint(note)?;
            }
        }
        for (_, note) in notes {
            w.checkpoint(note)?;
        }
        w.finish()
    };
    match write() {
        Ok(bytes) => bytes,
        Err(e) => panic!("writing an export into memory failed: {e}"),
    }
}

/// A small, realistic log: a drill's worth of entries with two signed checkpoints.
pub fn sample_audit_log() -> MemoryLog {
    let signer = audit_signer();
    let t0 = audit_epoch();
    let at = |s: i64| t0 + chrono::Duration::milliseconds(s * 1_250 + 17);
    let mut log = MemoryLog::new();
    log.append(
        at(0),
        AuditEvent::new("dana", "session.sign_in").outcome("ok"),
    );
    log.append(
        at(1),
        AuditEvent::new("dana", "draft.create")
            .subject("playbook", "boil-water")
            .subject("draft", "1")
            .payload(b"Boil-water advisory for North Side"),
    );
    log.append(
        at(2),
        AuditEvent::new("dana", "draft.submit")
            .subject("draft", "1")
            .outcome("ok"),
    );
    log.checkpoint(at(3), &signer);
    log.append(
        at(4),
        AuditEvent::new("sam", "draft.approve")
            .subject("draft", "1")
            .subject("message", "1")
            .outcome("ok")
            .exercise(true),
    );
    log.append(
        at(5),
        AuditEvent::new("system", "delivery.delivered")
            .subject("message", "1")
            .subject("account", "mastodon-main")
            .outcome("delivered \"1/\" \u{2014} caf\u{e9}\n"),
    );
    log.checkpoint(at(6), &signer);
    log
}

//! The webhook witness (`[audit] witness_url`): each signed checkpoint is POSTed, as
//! the signed note it is (`text/plain`), to a receiver someone else runs, who keeps the
//! bodies one after another (the format `tocsin audit verify --witness` reads).
//!
//! Publishing never holds up a commit: notes go through a bounded queue to one task
//! that POSTs them in order, trying each up to three times. A note that cannot be
//! delivered is logged and dropped; the next checkpoint covers everything it did.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_store::{CheckpointWitness, FileWitness};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;

/// How many notes may wait for the receiver.
const QUEUE: usize = 64;

enum Job {
    Note(String),
    Flush(oneshot::Sender<()>),
}

/// POSTs each checkpoint note to a URL.
pub struct UrlWitness {
    queue: mpsc::Sender<Job>,
}

impl UrlWitness {
    /// Starts the task that delivers to `url` (on the current Tokio runtime).
    pub fn start(url: &str) -> Result<UrlWitness> {
        let parsed = url::Url::parse(url).context("[audit] witness_url is not a URL")?;
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                bail!("[audit] witness_url must use https (http only on loopback), not {other}")
            }
        }
        let http = HttpClient::new(HttpLimits {
            request_timeout: Duration::from_secs(10),
            max_redirects: 0,
            ..HttpLimits::default()
        })
        .map_err(|e| anyhow::anyhow!("[audit] witness_url: {e}"))?;
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(http, url.to_string(), jobs));
        Ok(UrlWitness { queue })
    }
}

async fn deliver(http: HttpClient, url: String, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let note = match job {
            Job::Note(note) => note,
            Job::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            // The same id for every try of a note, so a receiver can drop repeats.
            let id = tocsin_audit::checkpoint::parse_unverified(&note)
                .map(|c| format!("tocsin-checkpoint-{}-{}", c.origin, c.size))
                .unwrap_or_default();
            let request = http
                .request(reqwest::Method::POST, &url)
                .header("content-type", "text/plain; charset=utf-8")
                .header("webhook-id", id)
                .body(note.clone());
            match http.send(request, true).await {
                Ok(reply) if reply.status.is_success() => {
                    last.clear();
                    break;
                }
                Ok(reply) => last = format!("HTTP {}", reply.status.as_u16()),
                Err(e) => last = e.to_string(),
            }
        }
        if !last.is_empty() {
            tracing::warn!(error = %last, "the audit witness did not take a checkpoint; the next one covers it");
        }
    }
}

impl CheckpointWitness for UrlWitness {
    fn publish(&self, note: &str) -> Result<(), String> {
        self.queue
            .try_send(Job::Note(note.to_string()))
            .map_err(|_| {
                "the witness_url queue is full or closed; this checkpoint is skipped".into()
            })
    }

    fn flush(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let (done, wait) = oneshot::channel();
            if self.queue.send(Job::Flush(done)).await.is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(30), wait).await;
            }
        })
    }
}

/// The witnesses `[audit]` configures (call inside the Tokio runtime).
pub fn configured(config: &Config) -> Result<Vec<Arc<dyn CheckpointWitness>>> {
    let mut out: Vec<Arc<dyn CheckpointWitness>> = Vec::new();
    let file = config.audit.witness_file.trim();
    if !file.is_empty() {
        let path = resolve(&config.data_dir, Path::new(file));
        let file = FileWitness::open(&path)
            .with_context(|| format!("[audit] witness_file {}", path.display()))?;
        out.push(Arc::new(file));
    }
    let url = config.audit.witness_url.trim();
    if !url.is_empty() {
        out.push(Arc::new(UrlWitness::start(url)?));
    }
    Ok(out)
}

/// A relative witness path is inside the data directory.
pub fn resolve(data_dir: &Path, path: &Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        data_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_audit::checkpoint::Checkpoint;
    use tocsin_test_support::webhook::FakeSubscriber;

    fn note(size: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let signer = tocsin_audit::load_or_create(
            &dir.path().join(tocsin_audit::KEY_FILE_NAME),
            "test.example.gov/audit",
        )
        .unwrap();
        Checkpoint {
            origin: "test.example.gov/audit".into(),
            size,
            head: tocsin_audit::ChainHash([size as u8; 32]),
            time: chrono::Utc::now(),
        }
        .sign(&signer)
    }

    #[tokio::test]
    async fn each_checkpoint_is_posted_as_signed_and_the_bodies_read_back_as_a_witness() {
        let fake = FakeSubscriber::start(Arc::new(|_, _| Ok(())))
            .await
            .unwrap();
        let witness = UrlWitness::start(&fake.url()).unwrap();
        let notes = [note(5), note(10)];
        for n in &notes {
            witness.publish(n).unwrap();
        }
        witness.flush().await;
        let kept: String = fake
            .subscriber
            .deliveries()
            .iter()
            .map(|d| String::from_utf8(d.body.to_vec()).unwrap())
            .collect();
        assert_eq!(tocsin_audit::read_witness(&kept).unwrap(), notes.to_vec());
    }

    #[test]
    fn a_witness_url_must_be_https_off_loopback() {
        let err = UrlWitness::start("http://witness.example.org/in")
            .err()
            .unwrap();
        assert!(err.to_string().contains("https"), "{err}");
    }
}

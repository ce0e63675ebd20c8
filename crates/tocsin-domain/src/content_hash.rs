//! The canonical content hash of a playbook: its file and every template it uses.
//!
//! Pre-approval binds an approver to these exact bytes. The encoding is unambiguous
//! (domain tag, then length-prefixed path and content for each file, templates sorted by
//! path), so no two different sets of files share an input to SHA-256.

use sha2::{Digest, Sha256};

/// Domain-separation tag; bump the version if the encoding ever changes.
const TAG: &[u8] = b"tocsin-playbook-content-v1\n";

/// `sha256:<hex>` over the playbook file and its templates (`(path, bytes)`, any order;
/// paths relative to the templates directory).
pub fn content_hash(playbook_file: &[u8], templates: &[(String, Vec<u8>)]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(TAG);
    feed(&mut hasher, b"playbook", playbook_file);
    let mut sorted: Vec<&(String, Vec<u8>)> = templates.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    for (path, bytes) in sorted {
        feed(&mut hasher, path.as_bytes(), bytes);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

fn feed(hasher: &mut Sha256, name: &[u8], bytes: &[u8]) {
    hasher.update((name.len() as u64).to_be_bytes());
    hasher.update(name);
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str, body: &str) -> (String, Vec<u8>) {
        (path.to_string(), body.as_bytes().to_vec())
    }

    #[test]
    fn the_hash_ignores_template_order_but_not_content() {
        let a = content_hash(b"id='x'", &[t("a.hbs", "A"), t("b.hbs", "B")]);
        let b = content_hash(b"id='x'", &[t("b.hbs", "B"), t("a.hbs", "A")]);
        assert_eq!(a, b);
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
        assert_ne!(
            a,
            content_hash(b"id='x'", &[t("a.hbs", "A "), t("b.hbs", "B")])
        );
        assert_ne!(
            a,
            content_hash(b"id='y'", &[t("a.hbs", "A"), t("b.hbs", "B")])
        );
    }

    #[test]
    fn moving_bytes_between_path_and_content_changes_the_hash() {
        assert_ne!(
            content_hash(b"", &[t("ab.hbs", "c")]),
            content_hash(b"", &[t("a", "b.hbsc")])
        );
    }
}

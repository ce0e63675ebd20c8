//! The rendered texts of drafts and messages (one per target), stored apart from the audit
//! chain, which holds only their SHA-256 commitment.

use std::collections::BTreeMap;
use tocsin_audit::payload_commitment;

use tocsin_domain::playbook::TextTarget;

use crate::time::target_col;
use crate::tx::{on_pool, on_tx, Tx};
use crate::*;
#[allow(unused_imports)]
use crate::{
    accounts::*, consent::*, drafts::*, live_sessions::*, messages::*, outbox::*, people::*,
    schedules::*,
};

/// One rendered text: a platform's variant, the HTML email part, or the headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedVariant {
    /// What it is for.
    pub target: TextTarget,
    /// The text as it will be posted.
    pub body: String,
}

/// A stored variant; its body is `None` once retention purged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariant {
    /// What it is for.
    pub target: TextTarget,
    /// SHA-256 of the body (kept forever, like the audit entry committing to it).
    pub body_sha256: String,
    /// The text, until purged.
    pub body: Option<String>,
}

pub(crate) fn variants_commitment(variants: &[RenderedVariant]) -> Vec<u8> {
    let map: BTreeMap<std::borrow::Cow<'static, str>, String> = variants
        .iter()
        .map(|v| (v.target.as_str(), payload_commitment(v.body.as_bytes())))
        .collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

impl Tx<'_> {
    pub(crate) async fn insert_variants(
        &mut self,
        draft: Option<i64>,
        message: Option<i64>,
        variants: &[RenderedVariant],
        now: &crate::time::DbTime,
    ) -> Result<(), StoreError> {
        on_tx!(self, c => {
            for v in variants {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO rendered_variants (draft_id, message_id, target, body_sha256, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(draft)
                .bind(message)
                .bind(v.target.as_str())
                .bind(payload_commitment(v.body.as_bytes()))
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
                sqlx::query("INSERT INTO rendered_bodies (variant_id, body) VALUES ($1, $2)")
                    .bind(id)
                    .bind(&v.body)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }
}

impl Store {
    pub(crate) async fn variants(
        &self,
        column: &'static str,
        id: i64,
    ) -> Result<Vec<StoredVariant>, StoreError> {
        let sql = format!(
            "SELECT v.target, v.body_sha256, b.body FROM rendered_variants v \
             LEFT JOIN rendered_bodies b ON b.variant_id = v.id WHERE v.{column} = $1 ORDER BY v.id"
        );
        let rows: Vec<(String, String, Option<String>)> = on_pool!(self, p => {
            sqlx::query_as(&sql).bind(id).fetch_all(p).await?
        });
        rows.into_iter()
            .map(|(target, body_sha256, body)| {
                Ok(StoredVariant {
                    target: target_col(&target)?,
                    body_sha256,
                    body,
                })
            })
            .collect()
    }
}

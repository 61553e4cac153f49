//! Reading history: a cluster's revisions (with their effective config and render) and the
//! audit log.
//!
//! A deleted cluster's revisions stay readable: history outlives the cluster, and a cluster
//! created again under the same name continues its numbering.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::{AppState, Rendered};
use crate::db::models::{AuditRow, ClusterRevisionRow};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord, AuditQuery};

/// One stored revision with its effective config decoded.
pub struct Revision {
    pub cluster: String,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub actor: String,
    /// Why the revision exists.
    pub reason: String,
    /// The catalog revision it was resolved against.
    pub catalog_revision: i64,
    pub record: EffectiveRecord,
}

impl TryFrom<ClusterRevisionRow> for Revision {
    type Error = Error;
    fn try_from(row: ClusterRevisionRow) -> Result<Self, Error> {
        Ok(Revision {
            record: EffectiveRecord::decode(&row.effective)?,
            cluster: row.cluster,
            revision: row.revision,
            created_at: row.created_at,
            actor: row.actor,
            reason: row.reason,
            catalog_revision: row.catalog_revision,
        })
    }
}

/// One revision with its render.
pub struct RevisionDetail {
    pub revision: Revision,
    pub rendered: Arc<Rendered>,
}

/// A cluster is known while it exists or has history.
fn known_cluster(conn: &mut DbConnection, cluster: &str) -> Result<(), Error> {
    if store::cluster(conn, cluster)?.is_some() || store::latest_revision(conn, cluster)?.is_some() {
        return Ok(());
    }
    Err(Error::NotFound {
        kind: "cluster",
        name: cluster.to_owned(),
    })
}

/// Up to `limit` revisions older than `before` (all when `None`), newest first.
pub fn revisions(state: &AppState, cluster: &str, before: Option<i64>, limit: i64) -> Result<Vec<Revision>, Error> {
    let mut conn = state.conn()?;
    known_cluster(&mut conn, cluster)?;
    store::revisions(&mut conn, cluster, before, limit)?
        .into_iter()
        .map(Revision::try_from)
        .collect()
}

/// Revision `n` of a cluster, rendered as the cluster would have been served it.
pub fn revision(state: &AppState, cluster: &str, n: i64) -> Result<RevisionDetail, Error> {
    let mut conn = state.conn()?;
    known_cluster(&mut conn, cluster)?;
    let row = store::revision(&mut conn, cluster, n)?.ok_or_else(|| Error::NotFound {
        kind: "revision",
        name: format!("{cluster}@{n}"),
    })?;
    let revision = Revision::try_from(row)?;
    let rendered = state.renders.get(&mut conn, cluster, n)?;
    Ok(RevisionDetail { revision, rendered })
}

/// One write, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: String,
}

/// Entries were written as JSON; one that is not is shown as the text it is rather than lost.
fn json_or_text(stored: &Option<String>) -> Option<Value> {
    stored
        .as_deref()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
}

impl From<&AuditRow> for AuditEntry {
    fn from(r: &AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            before: json_or_text(&r.before),
            after: json_or_text(&r.after),
            request_id: r.request_id.clone(),
        }
    }
}

/// Audit entries matching `q`, newest first.
pub fn audit(state: &AppState, q: &AuditQuery) -> Result<Vec<AuditEntry>, Error> {
    let mut conn = state.conn()?;
    Ok(store::audit(&mut conn, q)?.iter().map(AuditEntry::from).collect())
}

//! Reading history: a cluster's revisions (with their effective config and render) and the
//! audit log.
//!
//! A deleted cluster's revisions stay readable: history outlives the cluster, and a cluster
//! created again under the same name continues its numbering.

use std::sync::Arc;

use super::{AppState, Rendered};
use crate::db::models::{AuditRow, ClusterRevisionRow};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::EffectiveRecord, AuditQuery};

/// One stored revision with its effective config decoded.
pub struct Revision {
    pub row: ClusterRevisionRow,
    pub record: EffectiveRecord,
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
        .map(|row| {
            let record = EffectiveRecord::decode(&row.effective)?;
            Ok(Revision { row, record })
        })
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
    let record = EffectiveRecord::decode(&row.effective)?;
    let rendered = state.renders.get(&mut conn, cluster, n)?;
    Ok(RevisionDetail {
        revision: Revision { row, record },
        rendered,
    })
}

/// Audit entries matching `q`, newest first.
pub fn audit(state: &AppState, q: &AuditQuery) -> Result<Vec<AuditRow>, Error> {
    let mut conn = state.conn()?;
    Ok(store::audit(&mut conn, q)?)
}

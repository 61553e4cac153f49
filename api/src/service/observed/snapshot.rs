//! Observed rows kept in memory, refreshed from the rows taken in since the last read (with an
//! overlap, since another replica's commit can land a little after its timestamp), so reading
//! the whole fleet's observed state costs only what changed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};

use super::fnv::FnvMap;
use crate::db::models_observed::ObservedRow;
use crate::error::Error;
use crate::store::observed as q;

/// How far back each refresh reaches before the previous one began.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(10);
/// How often the snapshot is read whole, dropping the rows of deleted clusters.
const FULL_EVERY: Duration = Duration::from_secs(600);

/// Observed rows in memory, by cluster.
#[derive(Default)]
pub struct Snapshot {
    inner: Mutex<SnapshotInner>,
}

#[derive(Default)]
struct SnapshotInner {
    rows: FnvMap<String, Vec<ObservedRow>>,
    /// When the last refresh began (our clock), and when the last full read was.
    read_from: Option<NaiveDateTime>,
    full_at: Option<Instant>,
}

impl Snapshot {
    /// Brings the snapshot up to date and hands `f` the rows.
    pub(crate) fn with_rows<T>(
        &self,
        conn: &mut crate::db::DbConnection,
        f: impl FnOnce(&FnvMap<String, Vec<ObservedRow>>) -> T,
    ) -> Result<T, Error> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| Error::Internal("the observed snapshot lock was poisoned by a panic".into()))?;
        let started = Utc::now().naive_utc();
        let full = inner.full_at.is_none_or(|at| at.elapsed() >= FULL_EVERY);
        let since = if full {
            None
        } else {
            inner.read_from.map(|t| t - OVERLAP)
        };
        let rows = q::observed_since(conn, since)?;
        if full {
            inner.rows.clear();
            inner.full_at = Some(Instant::now());
        }
        for row in rows {
            let list = inner.rows.entry(row.cluster.clone()).or_default();
            match list
                .iter_mut()
                .find(|r| r.kind == row.kind && r.namespace == row.namespace && r.name == row.name)
            {
                Some(slot) => *slot = row,
                None => list.push(row),
            }
        }
        inner.read_from = Some(started);
        Ok(f(&inner.rows))
    }
}

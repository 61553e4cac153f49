//! Group commit of events on SQLite: one writer at a time commits every event queued so far
//! in one transaction, so concurrent posts share a commit instead of queuing for one each.

use std::sync::mpsc;
use std::sync::Mutex;

use diesel::Connection;

use crate::db::models_observed::{NewFluxEventRow, ObservedRow};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::observed as q;

/// One event's writes.
pub struct Work {
    pub row: NewFluxEventRow,
    pub observed: ObservedRow,
    /// The event moves the applied revision.
    pub applied: bool,
    /// Prune the cluster's history afterwards.
    pub prune: bool,
}

/// Stores one event; whether it was a duplicate.
pub fn write(conn: &mut DbConnection, w: &Work) -> Result<bool, Error> {
    if !q::insert_event(conn, &w.row)? {
        return Ok(true);
    }
    if !q::insert_observed(conn, &w.observed)? {
        q::update_observed(conn, &w.observed, w.applied)?;
    }
    if w.prune {
        q::prune_events(conn, &w.row.cluster, super::HISTORY)?;
    }
    Ok(false)
}

type Done = mpsc::SyncSender<Result<bool, String>>;

#[derive(Default)]
pub struct Batcher {
    queue: Mutex<Vec<(Work, Done)>>,
    writer: Mutex<()>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("the event batch lock was poisoned by a panic".into())
}

impl Batcher {
    /// Queues `work` and returns once it is committed: by this caller, committing everything
    /// queued, or by whoever held the writer before it. A failing batch fails each of its
    /// events (Flux sends them again).
    pub fn submit(&self, conn: &mut DbConnection, work: Work) -> Result<bool, Error> {
        let (done, result) = mpsc::sync_channel(1);
        self.queue.lock().map_err(poisoned)?.push((work, done));
        let writer = self.writer.lock().map_err(poisoned)?;
        if let Ok(r) = result.try_recv() {
            return r.map_err(Error::Internal);
        }
        let batch = std::mem::take(&mut *self.queue.lock().map_err(poisoned)?);
        let written = conn.transaction(|c| {
            super::relax_durability(c)?;
            batch
                .iter()
                .map(|(w, _)| write(c, w))
                .collect::<Result<Vec<_>, Error>>()
        });
        match written {
            Ok(flags) => {
                for ((_, done), duplicate) in batch.iter().zip(flags) {
                    let _ = done.send(Ok(duplicate));
                }
            }
            Err(e) => {
                let message = format!("storing a batch of {} events failed: {e}", batch.len());
                for (_, done) in &batch {
                    let _ = done.send(Err(message.clone()));
                }
            }
        }
        drop(writer);
        result
            .recv()
            .map_err(|_| Error::Internal("an event batch ended without an answer".into()))?
            .map_err(Error::Internal)
    }
}

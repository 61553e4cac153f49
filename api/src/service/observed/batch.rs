//! Group commit of events: posts queue their events, and one writer thread commits everything
//! queued so far in one transaction (on PostgreSQL in a few multi-row statements), answering
//! each post once its batch is committed, so a 202 still means stored.

use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, OnceLock};

use diesel::Connection;
use tokio::sync::oneshot;

use crate::db::models_observed::{NewFluxEventRow, ObservedRow};
use crate::db::{DbConnection, Pool};
use crate::error::Error;
use crate::store::observed as q;

/// Events committed in one transaction at most: bounds a statement's parameters (13 per event,
/// PostgreSQL allows 65,535) and how long the first post of a batch waits.
const MAX_BATCH: usize = 1_000;

/// One event's writes.
pub struct Work {
    pub row: NewFluxEventRow,
    pub observed: ObservedRow,
    /// The event moves the applied revision.
    pub applied: bool,
    /// Prune the cluster's history afterwards.
    pub prune: bool,
}

/// Whether the event was a duplicate, once its batch is committed.
pub type Answer = oneshot::Receiver<Result<bool, Error>>;

struct Job {
    work: Work,
    done: oneshot::Sender<Result<bool, Error>>,
}

/// The queue to the writer thread, started on the first event.
#[derive(Default)]
pub struct Writer {
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl Writer {
    /// Queues `work`; the answer comes once it is committed. A failing batch fails each of its
    /// events (Flux sends them again).
    pub fn submit(&self, pool: &Pool, work: Work) -> Answer {
        let (done, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| start(pool.clone()));
        // A writer that could not start drops its queue: the dropped `done` answers the post.
        let _ = queue.send(Job { work, done });
        answer
    }
}

/// Starts the writer; it ends when the queue's sender (the service state) is dropped.
fn start(pool: Pool) -> mpsc::Sender<Job> {
    let (queue, jobs) = mpsc::channel::<Job>();
    let started = std::thread::Builder::new().name("event-writer".into()).spawn(move || {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            batch.extend(jobs.try_iter().take(MAX_BATCH - 1));
            commit(&pool, batch);
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the event writer; events are refused");
    }
    queue
}

fn commit(pool: &Pool, batch: Vec<Job>) {
    let (works, dones): (Vec<Work>, Vec<_>) = batch.into_iter().map(|j| (j.work, j.done)).unzip();
    let written = pool.get().map_err(Error::from).and_then(|mut conn| {
        // A full commit (flushed to disk): a 202 means stored, and one flush per batch is
        // what makes that affordable.
        conn.transaction(|c| write(c, &works))
    });
    match written {
        Ok(flags) => {
            for (done, duplicate) in dones.into_iter().zip(flags) {
                let _ = done.send(Ok(duplicate));
            }
        }
        Err(e) => {
            tracing::warn!(events = works.len(), error = %e, "storing a batch of events failed");
            for done in dones {
                let each = match &e {
                    Error::Pool(m) => Error::Pool(m.clone()),
                    other => Error::Internal(format!("storing a batch of {} events failed: {other}", works.len())),
                };
                let _ = done.send(Err(each));
            }
        }
    }
}

/// Stores a batch as if its events came one after another; whether each was a duplicate.
pub fn write(conn: &mut DbConnection, works: &[Work]) -> Result<Vec<bool>, Error> {
    // A retried event can come twice in one batch: the first is stored, the others are
    // duplicates.
    let mut seen = HashSet::new();
    let mut duplicate: Vec<bool> = works
        .iter()
        .map(|w| !seen.insert((w.row.cluster.as_str(), w.row.event_key.as_str())))
        .collect();
    let rows: Vec<NewFluxEventRow> = works
        .iter()
        .zip(&duplicate)
        .filter(|(_, dup)| !**dup)
        .map(|(w, _)| w.row.clone())
        .collect();
    let new: HashSet<(String, String)> = q::insert_events(conn, &rows)?.into_iter().collect();
    for (w, dup) in works.iter().zip(duplicate.iter_mut()) {
        *dup = *dup || !new.contains(&(w.row.cluster.clone(), w.row.event_key.clone()));
    }
    // One statement may move an object once: its k-th event of the batch goes in round k, and
    // rounds run in order, so a later event of an object is applied after an earlier one.
    let mut rounds: Vec<[Vec<ObservedRow>; 2]> = Vec::new();
    let mut seen_objects: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for w in works.iter().zip(&duplicate).filter(|(_, dup)| !**dup).map(|(w, _)| w) {
        let o = &w.observed;
        let round = seen_objects
            .entry((&o.cluster, &o.kind, &o.namespace, &o.name))
            .and_modify(|n| *n += 1)
            .or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Default::default());
        }
        rounds[*round][usize::from(w.applied)].push(o.clone());
    }
    for [plain, applied] in &rounds {
        q::upsert_observed(conn, plain, false)?;
        q::upsert_observed(conn, applied, true)?;
    }
    let pruned: HashSet<&str> = works
        .iter()
        .zip(&duplicate)
        .filter(|(w, dup)| w.prune && !**dup)
        .map(|(w, _)| w.row.cluster.as_str())
        .collect();
    for cluster in pruned {
        q::prune_events(conn, cluster, super::HISTORY)?;
    }
    Ok(duplicate)
}

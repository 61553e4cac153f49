//! Group commit of events: posts queue their events, and one writer thread commits everything
//! queued so far in one transaction (on PostgreSQL in a few multi-row statements), answering
//! each post once its batch is committed, so a 202 still means stored.

use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, OnceLock};

use diesel::Connection;
use tokio::sync::oneshot;

use super::evidence::{Running, Steady};
use crate::db::models_observed::{NewFluxEventRow, ObservedRow};
use crate::db::{DbConnection, Pool, PooledConnection};
use crate::error::Error;
use crate::store::observed as q;

/// Every this many events of a cluster the writer takes in, it prunes the cluster's history,
/// so pruning costs little and a history exceeds [`super::HISTORY`] only briefly.
const PRUNE_EVERY: u32 = 16;

/// Events committed in one transaction at most: bounds how long the first post of a batch
/// waits, and the arrays a batch binds on PostgreSQL.
const MAX_BATCH: usize = 1_000;

/// One event's writes.
pub struct Work {
    pub row: NewFluxEventRow,
    /// With an applied revision when the event moves it.
    pub observed: ObservedRow,
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
    /// Queues `work`; the answer comes once it is committed. An event that cannot be stored
    /// fails alone (Flux sends it again).
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
        // The writer keeps its connection between batches: a checkout costs a round trip.
        let mut held = None;
        let mut pruning = Pruning::default();
        let mut steady = Steady::default();
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            batch.extend(jobs.try_iter().take(MAX_BATCH - 1));
            let prune = pruning.due(&batch);
            commit(&pool, &mut held, batch, &prune, &mut steady);
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the event writer; events are refused");
    }
    queue
}

/// Counts each cluster's events since its history was last pruned. Counting per cluster, not
/// overall, so no cluster's history escapes pruning however the fleet's posts interleave.
#[derive(Default)]
struct Pruning {
    since: HashMap<String, u32>,
}

impl Pruning {
    /// The clusters whose history the batch should prune.
    fn due(&mut self, batch: &[Job]) -> Vec<String> {
        let mut due = Vec::new();
        for job in batch {
            let cluster = &job.work.row.cluster;
            let count = self.since.entry(cluster.clone()).or_default();
            *count += 1;
            if *count >= PRUNE_EVERY {
                self.since.remove(cluster);
                due.push(cluster.clone());
            }
        }
        due
    }
}

fn commit(pool: &Pool, held: &mut Option<PooledConnection>, batch: Vec<Job>, prune: &[String], steady: &mut Steady) {
    let (works, dones): (Vec<Work>, Vec<_>) = batch.into_iter().map(|j| (j.work, j.done)).unzip();
    steady.forget_failures(&works);
    match store(pool, held, &works, prune, steady) {
        Ok((flags, running)) => {
            steady.learn(running);
            for (done, duplicate) in dones.into_iter().zip(flags) {
                let _ = done.send(Ok(duplicate));
            }
        }
        Err(e) if works.len() == 1 => {
            tracing::warn!(cluster = %works[0].row.cluster, error = %e, "storing an event failed");
            if let Some(done) = dones.into_iter().next() {
                let _ = done.send(Err(refused(&works[0], e)));
            }
        }
        // One event the database refuses (its cluster deleted a moment ago) must not fail the
        // others, and a connection that died is replaced: each event is tried again alone.
        Err(e) => {
            tracing::warn!(events = works.len(), error = %e, "storing a batch of events failed; trying each alone");
            for (work, done) in works.iter().zip(dones) {
                let one = store(pool, held, std::slice::from_ref(work), &[], steady).map(|(flags, running)| {
                    steady.learn(running);
                    flags[0]
                });
                if let Err(e) = &one {
                    tracing::warn!(cluster = %work.row.cluster, error = %e, "storing an event failed");
                }
                let _ = done.send(one.map_err(|e| refused(work, e)));
            }
        }
    }
}

/// Why an event was not stored, as its poster should hear it.
fn refused(work: &Work, e: Error) -> Error {
    use diesel::result::{DatabaseErrorKind, Error as Db};
    match e {
        Error::Database(Db::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => Error::NotFound {
            kind: "cluster",
            name: work.row.cluster.clone(),
        },
        other => other,
    }
}

/// Commits `works` in one transaction, on the held connection or else a fresh one. A full
/// commit (flushed to disk): a 202 means stored, and one flush per batch is what makes that
/// affordable.
fn store(
    pool: &Pool,
    held: &mut Option<PooledConnection>,
    works: &[Work],
    prune: &[String],
    steady: &Steady,
) -> Result<(Vec<bool>, Vec<Running>), Error> {
    if let Some(mut conn) = held.take() {
        match conn.transaction(|c| crate::db::caught(|| write(c, works, prune, steady))) {
            Ok(flags) => {
                *held = Some(conn);
                return Ok(flags);
            }
            // The database may have restarted since: the pool tests the connection before its
            // next use, and a fresh one tries again (storing is idempotent).
            Err(e) => tracing::debug!(error = %e, "storing events on the held connection failed"),
        }
    }
    let mut conn = pool.get()?;
    let flags = conn.transaction(|c| crate::db::caught(|| write(c, works, prune, steady)))?;
    *held = Some(conn);
    Ok(flags)
}

/// Stores a batch as if its events came one after another, then prunes the histories of the
/// clusters in `prune`; whether each event was a duplicate, and the ready periods now running.
fn write(
    conn: &mut DbConnection,
    works: &[Work],
    prune: &[String],
    steady: &Steady,
) -> Result<(Vec<bool>, Vec<Running>), Error> {
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
    let mut rounds: Vec<Vec<ObservedRow>> = Vec::new();
    let mut seen_objects: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for w in works.iter().zip(&duplicate).filter(|(_, dup)| !**dup).map(|(w, _)| w) {
        let o = &w.observed;
        let round = seen_objects
            .entry((&o.cluster, &o.kind, &o.namespace, &o.name))
            .and_modify(|n| *n += 1)
            .or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(o.clone());
    }
    for round in &rounds {
        q::upsert_observed(conn, round)?;
    }
    let new_works = works.iter().zip(&duplicate).filter(|(_, dup)| !**dup).map(|(w, _)| w);
    let running = super::evidence::record(conn, new_works, steady)?;
    for cluster in prune {
        q::prune_events(conn, cluster, super::HISTORY)?;
    }
    Ok((duplicate, running))
}

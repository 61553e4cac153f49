//! Turning stored events into evidence: a ready Kustomization at a digest starts (or keeps) the
//! cluster's ready period for that component's build; a failure withdraws it. Written by the
//! event writer in the batch that stores the events.
//!
//! Times are our receipt times (the service clock), not the cluster's: a skewed cluster clock
//! cannot shorten a soak, and tests move time by the service's clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::batch::Work;
use super::readiness::{ObservedState, FAILED, READY};
use super::revision::parse_revision;
use super::KUSTOMIZATION;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::evidence as q;

/// A ready period running: (cluster, component) at a digest.
pub type Running = ((String, String), String);

/// How long the writer trusts what it learned: a cluster deleted and made again under the
/// same name loses its stored periods, and this bounds how long the cache hides that.
const TRUSTED_FOR: Duration = Duration::from_secs(600);

/// The ready periods the writer knows are running, so the ready report every reconcile sends
/// costs no statement. Learned only after a commit; forgotten on any failure report, and
/// written again at least every [`TRUSTED_FOR`].
#[derive(Default)]
pub struct Steady {
    running: HashMap<(String, String), (String, Instant)>,
}

impl Steady {
    fn is_running(&self, cluster: &str, component: &str, digest: &str) -> bool {
        self.running
            .get(&(cluster.to_owned(), component.to_owned()))
            .is_some_and(|(d, learned)| d == digest && learned.elapsed() < TRUSTED_FOR)
    }

    pub fn learn(&mut self, running: Vec<Running>) {
        let now = Instant::now();
        for (key, digest) in running {
            match self.running.get(&key) {
                // Keep the time it was last written, so it is written again in time.
                Some((known, _)) if *known == digest && self.is_running(&key.0, &key.1, &digest) => {}
                _ => {
                    self.running.insert(key, (digest, now));
                }
            }
        }
    }

    /// Forgets the periods a failure in `works` may end, before the batch is written.
    pub fn forget_failures(&mut self, works: &[Work]) {
        for w in works {
            let o = &w.observed;
            if let (Some(component), true) = (&o.component, ObservedState::from_stored(&o.state) == FAILED) {
                self.running.remove(&(o.cluster.clone(), component.clone()));
            }
        }
    }
}

/// Records the evidence the (new, not duplicate) events of a batch give, in order; the ready
/// periods that run once it commits.
pub fn record<'w>(
    conn: &mut DbConnection,
    works: impl Iterator<Item = &'w Work>,
    steady: &Steady,
) -> Result<Vec<Running>, Error> {
    let mut running = Vec::new();
    for w in works {
        let o = &w.observed;
        let Some(component) = o.component.as_deref().filter(|_| o.kind == KUSTOMIZATION) else {
            continue;
        };
        match ObservedState::from_stored(&o.state) {
            READY => {
                let Some(digest) = o.applied_digest.as_deref() else {
                    continue;
                };
                if !steady.is_running(&o.cluster, component, digest) {
                    q::record_ready(
                        conn,
                        &o.cluster,
                        component,
                        digest,
                        o.applied_tag.as_deref(),
                        o.received_at,
                    )?;
                }
                running.push(((o.cluster.clone(), component.to_owned()), digest.to_owned()));
            }
            FAILED => {
                let digest = o.last_revision.as_deref().map(parse_revision).and_then(|r| r.digest);
                q::record_failed(conn, &o.cluster, component, digest.as_deref(), o.received_at)?;
            }
            _ => {}
        }
    }
    Ok(running)
}

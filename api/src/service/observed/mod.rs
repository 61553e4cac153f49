//! What clusters report back: Flux notification-controller events taken in, the observed state
//! of each Flux object they describe, and what other parts read from it (drift, rollout gates).
//!
//! Events are not writes by users: they change no desired state and get no audit entries.
//! They are committed in groups by one writer (see [`batch`]), never through the catalog
//! write path, so a fleet's events cost little.

mod batch;
pub mod drift;
mod evidence;
mod fnv;
pub mod health;
pub mod hmac;
pub mod metrics;
pub mod readiness;
mod revision;
pub mod snapshot;
pub mod status;
mod view;

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::{AppState, Caller, Ctx};
use crate::db::models_observed::{EventSecretRow, FluxEventRow, NewFluxEventRow, ObservedRow};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::sha256_hex, observed as q};
pub use revision::{parse_revision, Revision};
pub use view::{ClusterView, Desired, DesiredComponent};

/// Events kept per cluster; older ones are pruned.
pub const HISTORY: i64 = 100;

pub const KUSTOMIZATION: &str = "Kustomization";
pub const OCI_REPOSITORY: &str = "OCIRepository";

/// How bad an event is, as Flux grades it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Trace,
    Info,
    Error,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "trace" => Some(Severity::Trace),
            "info" => Some(Severity::Info),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Info => "info",
            Severity::Error => "error",
        }
    }
}

/// One notification-controller event, checked.
#[derive(Clone, Debug)]
pub struct FluxEvent {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub severity: Severity,
    pub reason: String,
    pub message: String,
    pub timestamp: NaiveDateTime,
    pub revision: Option<String>,
    pub reporting_controller: Option<String>,
}

impl FluxEvent {
    /// What makes this event itself: a retried post of it has the same key.
    fn key(&self, cluster: &str) -> String {
        let parts = [
            cluster,
            &self.kind,
            &self.namespace,
            &self.name,
            &self.reason,
            self.revision.as_deref().unwrap_or(""),
            &self.timestamp.and_utc().to_rfc3339(),
            &self.message,
        ];
        sha256_hex(parts.join("\u{0}").as_bytes())
    }
}

/// What taking in an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    /// The same event was stored already (Flux retries); nothing changed.
    pub duplicate: bool,
    /// The component the object renders, or `None` for an object we did not render.
    pub component: Option<String>,
}

/// The caches events and drift reports read through; see [`view`].
#[derive(Default)]
pub struct Observed {
    pub(crate) views: view::Views,
    pub(crate) snapshot: snapshot::Snapshot,
    pub(crate) metrics: metrics::MetricsCache,
    /// Events are committed in groups by one writer: SQLite takes one writer at a time, and on
    /// PostgreSQL a batch costs a few statements where each event would cost five.
    writer: batch::Writer,
}

/// Takes in one post from `cluster`'s Flux: checks its signature against the cluster's event
/// secret (required when the cluster has one: its Flux uses the `generic-hmac` provider) before
/// the body is even parsed, then parses it with `parse` and stores the event. The cluster's
/// view comes from memory when it can, so a busy cluster's post needs no database but the
/// writer's batch it joins.
pub async fn receive(
    state: Arc<AppState>,
    cluster: String,
    body: &[u8],
    signature: Option<&str>,
    parse: impl FnOnce(&[u8]) -> Result<FluxEvent, Error>,
) -> Result<Ingested, Error> {
    let view = match state.observed.views.cached(&cluster)? {
        Some(view) => view,
        None => {
            let state = state.clone();
            blocking(move || state.observed.views.get(&mut *state.conn()?, &cluster)).await?
        }
    };
    check_signature(&view, body, signature)?;
    let (work, component) = prepare(&view, parse(body)?, state.clock.now());
    let answer = state.observed.writer.submit(&state.pool, work);
    let duplicate = answer.await.map_err(|_| unanswered())??;
    Ok(Ingested { duplicate, component })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a blocking task failed: {e}")))?
}

fn unanswered() -> Error {
    Error::Internal("the event writer ended without storing the event".into())
}

fn check_signature(view: &ClusterView, body: &[u8], signature: Option<&str>) -> Result<(), Error> {
    let Some(secret) = &view.secret else {
        return Ok(());
    };
    match signature {
        None => Err(Error::Unauthorized(format!(
            "cluster {:?} has an event secret: posts must be signed (X-Signature: sha256=<HMAC-SHA256 of the body>)",
            view.name
        ))),
        Some(sig) if hmac::signature_matches(secret.as_bytes(), body, sig) => Ok(()),
        Some(_) => Err(Error::Unauthorized(
            "the X-Signature header does not match the body under the cluster's event secret".into(),
        )),
    }
}

/// The writes that store `event`, and the component its object renders.
fn prepare(view: &ClusterView, event: FluxEvent, now: NaiveDateTime) -> (batch::Work, Option<String>) {
    let cluster = view.name.as_str();
    let component = view.component_of(&event.kind, &event.namespace, &event.name);
    let row = NewFluxEventRow {
        cluster: cluster.to_owned(),
        event_key: event.key(cluster),
        kind: event.kind.clone(),
        namespace: event.namespace.clone(),
        name: event.name.clone(),
        component: component.clone(),
        severity: event.severity.as_str().to_owned(),
        reason: event.reason.clone(),
        message: event.message.clone(),
        revision: event.revision.clone(),
        reporting_controller: event.reporting_controller.clone(),
        event_at: event.timestamp,
        received_at: now,
    };
    let reading = readiness::read(&event);
    let applied = reading.applies && event.revision.is_some();
    let parsed = event.revision.as_deref().map(parse_revision).unwrap_or_default();
    let observed = ObservedRow {
        cluster: cluster.to_owned(),
        kind: event.kind,
        namespace: event.namespace,
        name: event.name,
        component: component.clone(),
        state: reading.state.as_str().to_owned(),
        reason: event.reason,
        message: event.message,
        last_revision: event.revision.clone(),
        applied_revision: if applied { event.revision } else { None },
        applied_tag: if applied { parsed.tag } else { None },
        applied_digest: if applied { parsed.digest } else { None },
        event_at: event.timestamp,
        received_at: now,
        applied_at: applied.then_some(event.timestamp),
    };
    let work = batch::Work { row, observed };
    (work, component)
}

/// A stored Flux event as the service shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxEventView {
    pub id: i64,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The catalog component the object belongs to; `None` for an object we did not render.
    pub component: Option<String>,
    pub severity: String,
    pub reason: String,
    pub message: String,
    pub revision: Option<String>,
    pub reporting_controller: Option<String>,
    /// The event's own time.
    pub event_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
}

impl From<&FluxEventRow> for FluxEventView {
    fn from(r: &FluxEventRow) -> Self {
        FluxEventView {
            id: r.id,
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            component: r.component.clone(),
            severity: r.severity.clone(),
            reason: r.reason.clone(),
            message: r.message.clone(),
            revision: r.revision.clone(),
            reporting_controller: r.reporting_controller.clone(),
            event_at: r.event_at,
            received_at: r.received_at,
        }
    }
}

/// A cluster's events, newest first, before the event `before` when given.
pub fn events(state: &AppState, cluster: &str, before: Option<i64>, limit: i64) -> Result<Vec<FluxEventView>, Error> {
    let mut conn = state.conn()?;
    require_cluster(&mut conn, cluster)?;
    Ok(q::events(&mut conn, cluster, before, limit)?
        .iter()
        .map(FluxEventView::from)
        .collect())
}

fn require_cluster(conn: &mut DbConnection, cluster: &str) -> Result<(), Error> {
    match store::cluster(conn, cluster)? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound {
            kind: "cluster",
            name: cluster.to_owned(),
        }),
    }
}

/// Issues a new event secret for a cluster, replacing the one it had; returns the secret, which
/// is shown this once. From now on the cluster's posts must be signed with it.
pub fn rotate_event_secret(state: &AppState, caller: &Caller, cluster: &str) -> Result<String, Error> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness for a secret: {e}")))?;
    let secret: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    state.write(caller, false, "event secret rotated", |ctx| {
        require_cluster(ctx.conn, cluster)?;
        let row = EventSecretRow {
            cluster: cluster.to_owned(),
            secret: secret.clone(),
            created_by: ctx.caller().actor.clone(),
            created_at: ctx.now,
        };
        q::put_event_secret(ctx.conn, &row)?;
        secret_audit(ctx, cluster, "cluster.event_secret.rotate");
        Ok(())
    })?;
    state.observed.views.forget(cluster);
    Ok(secret)
}

/// Removes a cluster's event secret: its posts are then checked by token alone.
pub fn delete_event_secret(state: &AppState, caller: &Caller, cluster: &str) -> Result<(), Error> {
    state.write(caller, false, "event secret deleted", |ctx| {
        require_cluster(ctx.conn, cluster)?;
        if q::delete_event_secret(ctx.conn, cluster)? == 0 {
            return Err(Error::NotFound {
                kind: "event secret of cluster",
                name: cluster.to_owned(),
            });
        }
        secret_audit(ctx, cluster, "cluster.event_secret.delete");
        Ok(())
    })?;
    state.observed.views.forget(cluster);
    Ok(())
}

/// The audit entry for a secret change: that it changed, never the secret.
fn secret_audit(ctx: &mut Ctx<'_>, cluster: &str, action: &str) {
    let shown = serde_json::json!({"cluster": cluster, "event_secret": "issued"});
    let target = format!("cluster/{cluster}");
    match action {
        "cluster.event_secret.delete" => ctx.audit(action, &target, Some(&shown), None::<&serde_json::Value>),
        _ => ctx.audit(action, &target, None::<&serde_json::Value>, Some(&shown)),
    }
}

/// A Flux duration (`10m`, `1h30m`, `500ms`) in seconds; `None` when it does not parse.
pub fn flux_seconds(s: &str) -> Option<f64> {
    catalog::FluxDuration::parse("interval", s)
        .ok()
        .map(|d| d.to_duration().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_durations_read_as_seconds() {
        assert_eq!(flux_seconds("10m"), Some(600.0));
        assert_eq!(flux_seconds("1h30m"), Some(5400.0));
        assert_eq!(flux_seconds("500ms"), Some(0.5));
        assert_eq!(flux_seconds("1.5h"), Some(5400.0));
        assert_eq!(flux_seconds(""), None);
        assert_eq!(flux_seconds("10"), None);
        assert_eq!(flux_seconds("10d"), None);
    }
}

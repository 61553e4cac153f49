//! The readiness model: what each event Flux sends means for an object's `state`, its
//! `applied_revision` and the rollout gate, and how events of one object in the same second
//! are merged by meaning rather than by arrival order.
//!
//! Read from kustomize-controller (KC) `internal/controller/kustomization_controller.go` (an
//! event's reason is the Ready condition's reason when it is sent), notification-controller
//! (NC) `internal/server/event_handlers.go` (metadata keys lose their API group prefix) and
//! source-controller. `R` is the event's `metadata.revision`.
//!
//! | kind | reason | severity | message form | `state` | `applied_revision` | gate | Flux (KC / NC) |
//! |---|---|---|---|---|---|---|---|
//! | Kustomization | `ReconciliationSucceeded` | info | `Reconciliation finished in <d>, next run in <d>` (metadata `commit_status: update`) | `ready` | R | ready at R | sent after every successful reconcile; NC v1.8.0–v1.8.3 (Flux 2.8.0–2.8.5) drop it for `generic`/`generic-hmac` |
//! | Kustomization | `Progressing` | info | `Health check passed in <d>` | `ready` | R | ready at R | with `wait` or `healthChecks`, for a new revision that changed objects or after a failed check; all versions |
//! | Kustomization | `Progressing` | info | the server-side-apply or prune change set, one `<Kind>/<ns>/<name> <action>` per line | `applied` | R | ready at R when the component has `wait: false`; else waits for the health check | when a reconcile changed objects; all versions |
//! | Kustomization | `HealthCheckCanceled` | info | `Health checks canceled due to new reconciliation triggered by <Kind>/<ns>/<name>` | `progressing` | unchanged | waits; never a failure | KC of Flux 2.8+ |
//! | Kustomization | `DependencyNotReady` | info | `Dependencies do not meet ready condition, retrying in <d>` | `progressing` | unchanged | waits; never a failure | all versions |
//! | Kustomization | `HealthCheckFailed`, `ReconciliationFailed`, `BuildFailed`, `ArtifactFailed`, `PruneFailed`, … | error | the error; `health check failed after <d>: <why>` | `failed` | unchanged | a failure toward `max_failures` | all versions |
//! | OCIRepository | `NewArtifact`, `ArtifactUpToDate`, `Succeeded` | info, trace | `stored artifact for digest '<d>'`, … | `ready` | R | (the gate reads the Kustomization) | all versions |
//! | OCIRepository | any | error | the error | `failed` | unchanged | a failure toward `max_failures` | all versions |
//! | any | any other | info, trace | — | `progressing` | unchanged | waits | — |
//!
//! Same-second merge ([`SAME_SECOND_RULE`]): timestamps are whole seconds, and NC posts each
//! event in its own goroutine and retries each on its own, so events of one second arrive in
//! any order. Between a stored event and a new one of the same second:
//! - a `ready` beats a `progressing` or `applied` of the same revision (or one without a
//!   revision), and replaces an earlier `ready`;
//! - anything else of another revision beats a `ready`: a Ready event reports the revision
//!   last applied, so an attempt at another revision in that second is the newer one;
//! - a `failed` of the same revision beats a `ready`;
//! - otherwise the higher of `failed` > `applied` > `progressing` wins (a tie: the later arrival).

use super::{FluxEvent, Severity, KUSTOMIZATION};

/// What Flux last said of an object, as the table above reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservedState {
    Ready,
    Applied,
    Progressing,
    Failed,
}

pub use ObservedState::{Applied as APPLIED, Failed as FAILED, Progressing as PROGRESSING, Ready as READY};

impl ObservedState {
    pub const fn as_str(self) -> &'static str {
        match self {
            ObservedState::Ready => "ready",
            ObservedState::Applied => "applied",
            ObservedState::Progressing => "progressing",
            ObservedState::Failed => "failed",
        }
    }

    /// A stored state; text from an older version that is none of these reads as progressing
    /// (no verdict), never as ready.
    pub fn from_stored(text: &str) -> ObservedState {
        [READY, APPLIED, PROGRESSING, FAILED]
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or(PROGRESSING)
    }
}

/// Reasons a source reports when it holds the revision's artifact.
const SOURCE_READY_REASONS: [&str; 3] = ["NewArtifact", "ArtifactUpToDate", "Succeeded"];

/// The message KC sends when health checks pass (`checkHealth`).
const HEALTH_PASSED: &str = "Health check passed in ";

/// What one event says about its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub state: ObservedState,
    /// Whether the event moves the applied revision to its own.
    pub applies: bool,
}

impl Reading {
    const fn new(state: ObservedState, applies: bool) -> Reading {
        Reading { state, applies }
    }
}

/// The row of the table above that `event` falls under.
pub fn read(event: &FluxEvent) -> Reading {
    let has_revision = event.revision.is_some();
    if event.severity == Severity::Error {
        return Reading::new(FAILED, false);
    }
    if event.kind != KUSTOMIZATION {
        return if SOURCE_READY_REASONS.contains(&event.reason.as_str()) {
            Reading::new(READY, has_revision)
        } else {
            Reading::new(PROGRESSING, false)
        };
    }
    match event.reason.as_str() {
        "ReconciliationSucceeded" => Reading::new(READY, has_revision),
        // Only KC's own progress events carry these message forms with a revision; anything
        // else with reason Progressing is progress without a verdict.
        "Progressing" if has_revision && event.message.starts_with(HEALTH_PASSED) => Reading::new(READY, true),
        "Progressing" if has_revision && is_change_set(&event.message) => Reading::new(APPLIED, true),
        _ => Reading::new(PROGRESSING, false),
    }
}

/// Whether a message is a KC change set: every line `<Kind>/<namespace>/<name> <action>` or
/// `<Kind>/<name> <action>` for cluster-scoped objects (`ssa.ChangeSetEntry.String`).
fn is_change_set(message: &str) -> bool {
    !message.is_empty()
        && message.lines().all(|line| {
            let Some((object, action)) = line.split_once(' ') else {
                return false;
            };
            let parts = object.split('/').count();
            (2..=3).contains(&parts) && !action.is_empty() && !action.contains(' ')
        })
}

/// SQL: whether the new row (`excluded`) takes over the object's state from the stored one
/// (`observed`). The same text on SQLite and PostgreSQL; see the module documentation.
pub const STATE_WINS: &str = "(observed.event_at < excluded.event_at OR (observed.event_at = excluded.event_at AND ";

/// SQL: the same-second rule of the module documentation, comparing `excluded` with
/// `observed`.
pub const SAME_SECOND_RULE: &str = "CASE \
    WHEN excluded.state = 'ready' THEN (observed.state = 'ready' OR (observed.state IN ('progressing', 'applied') \
        AND (observed.last_revision IS NULL OR excluded.last_revision IS NULL \
            OR observed.last_revision = excluded.last_revision))) \
    WHEN observed.state = 'ready' THEN (excluded.state = 'failed' OR NOT (observed.last_revision IS NULL \
        OR excluded.last_revision IS NULL OR observed.last_revision = excluded.last_revision)) \
    ELSE (CASE excluded.state WHEN 'failed' THEN 2 WHEN 'applied' THEN 1 ELSE 0 END) \
        >= (CASE observed.state WHEN 'failed' THEN 2 WHEN 'applied' THEN 1 ELSE 0 END) \
    END";

/// The `ON CONFLICT … DO UPDATE` clause both backends merge an object's observed row with:
/// its state moves when the new event wins ([`STATE_WINS`] and [`SAME_SECOND_RULE`]); its
/// applied revision when the new event applies a later one, or one of the same second that
/// wins by meaning; `received_at` with either, so what reads changed rows sees the change.
pub fn upsert_clause() -> String {
    let state = format!("{STATE_WINS}{SAME_SECOND_RULE}))");
    let applied = format!(
        "(excluded.applied_at IS NOT NULL AND (observed.applied_at IS NULL \
         OR observed.applied_at < excluded.applied_at \
         OR (observed.applied_at = excluded.applied_at AND {SAME_SECOND_RULE})))"
    );
    let take = |column: &str, when: &str| {
        format!("{column} = CASE WHEN {when} THEN excluded.{column} ELSE observed.{column} END")
    };
    let sets = [
        take("component", &state),
        take("state", &state),
        take("reason", &state),
        take("message", &state),
        take("last_revision", &state),
        take("event_at", &state),
        take("applied_revision", &applied),
        take("applied_tag", &applied),
        take("applied_digest", &applied),
        take("applied_at", &applied),
        "received_at = excluded.received_at".to_owned(),
    ];
    format!(
        " ON CONFLICT (cluster, kind, namespace, name) DO UPDATE SET {} WHERE {state} OR {applied}",
        sets.join(", ")
    )
}

/// Whether a Kustomization in `state` at `applied` satisfies the gate for a component with
/// `wait`: `ready` always; `applied` (its change set reported, no verdict) only without `wait`,
/// since KC then marks it Ready right after applying and, on Flux 2.8.0–2.8.5, nothing more is
/// forwarded.
pub fn gate_accepts(state: ObservedState, wait: bool) -> bool {
    state == READY || (state == APPLIED && !wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, severity: Severity, reason: &str, message: &str, revision: Option<&str>) -> FluxEvent {
        FluxEvent {
            kind: kind.into(),
            namespace: "flux-system".into(),
            name: "grafana".into(),
            severity,
            reason: reason.into(),
            message: message.into(),
            timestamp: chrono::DateTime::UNIX_EPOCH.naive_utc(),
            revision: revision.map(str::to_owned),
            reporting_controller: None,
        }
    }

    const R: Option<&str> = Some("v1.1.0@sha256:6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4");

    #[test]
    fn every_row_of_the_table_reads_as_documented() {
        let k = |severity, reason, message, revision| read(&event(KUSTOMIZATION, severity, reason, message, revision));
        let info = Severity::Info;
        let cases = [
            (
                k(
                    info,
                    "ReconciliationSucceeded",
                    "Reconciliation finished in 1.2s, next run in 10m0s",
                    R,
                ),
                (READY, true),
            ),
            (k(info, "Progressing", "Health check passed in 5.01s", R), (READY, true)),
            (
                k(
                    info,
                    "Progressing",
                    "Deployment/grafana/grafana configured\nService/grafana/grafana created",
                    R,
                ),
                (APPLIED, true),
            ),
            (k(info, "Progressing", "Namespace/grafana created", R), (APPLIED, true)),
            (
                k(info, "Progressing", "Health check passed in 5.01s", None),
                (PROGRESSING, false),
            ),
            (
                k(info, "Progressing", "Reconciliation in progress", R),
                (PROGRESSING, false),
            ),
            (
                k(
                    info,
                    "HealthCheckCanceled",
                    "Health checks canceled due to new reconciliation triggered by OCIRepository/flux-system/grafana",
                    R,
                ),
                (PROGRESSING, false),
            ),
            (
                k(
                    info,
                    "DependencyNotReady",
                    "Dependencies do not meet ready condition, retrying in 30s",
                    R,
                ),
                (PROGRESSING, false),
            ),
            (
                k(
                    Severity::Error,
                    "HealthCheckFailed",
                    "health check failed after 30s: timeout",
                    R,
                ),
                (FAILED, false),
            ),
            (k(Severity::Trace, "ReconciliationSucceeded", "", None), (READY, false)),
        ];
        for (got, (state, applies)) in cases {
            assert_eq!(got, Reading { state, applies });
        }
        let source = |severity, reason| read(&event("OCIRepository", severity, reason, "", R));
        assert_eq!(source(info, "NewArtifact"), Reading::new(READY, true));
        assert_eq!(source(info, "Progressing"), Reading::new(PROGRESSING, false));
        assert_eq!(source(Severity::Error, "OCIPullFailed"), Reading::new(FAILED, false));
    }

    #[test]
    fn the_gate_takes_an_applied_change_set_only_without_wait() {
        assert!(gate_accepts(READY, true));
        assert!(gate_accepts(READY, false));
        assert!(gate_accepts(APPLIED, false));
        assert!(!gate_accepts(APPLIED, true));
        assert!(!gate_accepts(PROGRESSING, false));
        assert!(!gate_accepts(FAILED, false));
    }
}

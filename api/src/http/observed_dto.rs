//! Wire types of what clusters report: Flux events as notification-controller posts them,
//! observed objects, cluster status and drift findings.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Error;
use crate::service::observed::drift::Finding;
use crate::service::observed::status::{ClusterStatus, ComponentStatus, ObservedView};
use crate::service::observed::{FluxEvent, FluxEventView, Severity};

fn time(t: NaiveDateTime) -> String {
    crate::service::time::rfc3339(t)
}

/// A Flux event as notification-controller's `generic` and `generic-hmac` providers post it.
/// Fields Flux adds that are not listed here are accepted and ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FluxEventInput {
    #[schema(value_type = InvolvedObjectInput, required = true)]
    pub involved_object: Option<InvolvedObjectInput>,
    /// `info` or `error` (`trace` is taken as info).
    #[schema(value_type = String, required = true, pattern = "^(info|error|trace)$")]
    pub severity: Option<String>,
    /// RFC 3339.
    #[schema(value_type = String, required = true, format = DateTime, max_length = 64)]
    pub timestamp: Option<String>,
    pub message: Option<String>,
    /// Flux's reason, e.g. `ReconciliationSucceeded`, `ReconciliationFailed`, `Progressing`,
    /// `NewArtifact`, `HealthCheckFailed`, `BuildFailed`, `ArtifactFailed`.
    #[schema(value_type = String, required = true, pattern = r"\S", max_length = 128)]
    pub reason: Option<String>,
    /// String values only. The revision is read from `revision` or `<api group>/revision`:
    /// `v1.1.0@sha256:<hex>`, or `sha256:<hex>` for an artifact pinned by digest.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub reporting_controller: Option<String>,
    pub reporting_instance: Option<String>,
}

/// The Flux object an event is about.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObjectInput {
    #[schema(value_type = String, required = true, pattern = r"\S", max_length = 63)]
    pub kind: Option<String>,
    #[schema(value_type = String, required = true, pattern = r"\S", max_length = 63)]
    pub namespace: Option<String>,
    #[schema(value_type = String, required = true, pattern = r"\S", max_length = 253)]
    pub name: Option<String>,
    pub api_version: Option<String>,
    pub uid: Option<String>,
}

fn bad(path: &str, rule: &str) -> Error {
    Error::BadRequest(format!("{path}: {rule}"))
}

fn required(value: Option<String>, path: &str, max: usize) -> Result<String, Error> {
    match value {
        Some(v) if !v.trim().is_empty() && v.len() <= max => Ok(v),
        Some(v) if v.len() > max => Err(bad(path, &format!("is longer than {max} characters"))),
        _ => Err(bad(path, "is required")),
    }
}

impl TryFrom<FluxEventInput> for FluxEvent {
    type Error = Error;

    fn try_from(input: FluxEventInput) -> Result<FluxEvent, Error> {
        let object = input
            .involved_object
            .ok_or_else(|| bad("$.involvedObject", "is required"))?;
        let severity = required(input.severity, "$.severity", 16)?;
        let severity = Severity::parse(&severity)
            .ok_or_else(|| bad("$.severity", &format!("must be info, error or trace, not {severity:?}")))?;
        let raw_time = required(input.timestamp, "$.timestamp", 64)?;
        let timestamp = DateTime::parse_from_rfc3339(&raw_time)
            .map(|t| t.with_timezone(&Utc).naive_utc())
            .map_err(|e| {
                bad(
                    "$.timestamp",
                    &format!("must be an RFC 3339 time, not {raw_time:?} ({e})"),
                )
            })?;
        let revision = input
            .metadata
            .get("revision")
            .or_else(|| {
                input
                    .metadata
                    .iter()
                    .find(|(k, _)| k.ends_with("/revision") && !k.ends_with("/originRevision"))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_empty())
            .cloned();
        if revision.as_ref().is_some_and(|r| r.len() > 512) {
            return Err(bad("$.metadata.revision", "is longer than 512 characters"));
        }
        Ok(FluxEvent {
            kind: required(object.kind, "$.involvedObject.kind", 63)?,
            namespace: required(object.namespace, "$.involvedObject.namespace", 63)?,
            name: required(object.name, "$.involvedObject.name", 253)?,
            severity,
            reason: required(input.reason, "$.reason", 128)?,
            message: input.message.unwrap_or_default(),
            timestamp,
            revision,
            reporting_controller: input.reporting_controller.filter(|c| c.len() <= 128),
        })
    }
}

/// What the receiver did with an event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventAcceptedDto {
    /// The same event was taken in already (a retry); nothing changed.
    pub duplicate: bool,
    /// The component the object renders on this cluster.
    pub component: Option<String>,
    /// The object is not one we rendered for this cluster: stored, and flagged in drift.
    pub unmanaged: bool,
}

/// A cluster's event secret, shown once when issued.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventSecretDto {
    pub cluster: String,
    /// The HMAC key: the `token` of the Flux `generic-hmac` Provider's secret.
    pub secret: String,
    /// The header every post must then carry: `sha256=<hex HMAC-SHA256 of the body>`.
    pub header: String,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FluxEventDto {
    pub id: i64,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub component: Option<String>,
    pub severity: String,
    pub reason: String,
    pub message: String,
    pub revision: Option<String>,
    pub reporting_controller: Option<String>,
    pub timestamp: String,
    pub received_at: String,
}

impl From<&FluxEventView> for FluxEventDto {
    fn from(r: &FluxEventView) -> Self {
        FluxEventDto {
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
            timestamp: time(r.event_at),
            received_at: time(r.received_at),
        }
    }
}

/// The latest state Flux reported for an object.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObservedObjectDto {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `ready`, `applied` (a Kustomization's change set applied, no health verdict yet),
    /// `failed` or `progressing`; see the README's "How events read".
    pub state: String,
    pub reason: String,
    pub message: String,
    /// The revision of the latest event: what Flux last tried.
    pub last_revision: Option<String>,
    /// The revision last applied (a success, a passed health check, or a change set), split
    /// into tag and digest.
    pub applied_revision: Option<String>,
    pub applied_tag: Option<String>,
    pub applied_digest: Option<String>,
    /// The latest success's own time: a success that arrives late still moves the applied
    /// revision when it is the latest success.
    pub applied_at: Option<String>,
    /// The latest event's own time.
    pub event_at: String,
    /// When this object's state or applied revision last changed here (our clock).
    pub received_at: String,
}

impl From<&ObservedView> for ObservedObjectDto {
    fn from(r: &ObservedView) -> Self {
        ObservedObjectDto {
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            state: r.state.clone(),
            reason: r.reason.clone(),
            message: r.message.clone(),
            last_revision: r.last_revision.clone(),
            applied_revision: r.applied_revision.clone(),
            applied_tag: r.applied_tag.clone(),
            applied_digest: r.applied_digest.clone(),
            applied_at: r.applied_at.map(time),
            event_at: time(r.event_at),
            received_at: time(r.received_at),
        }
    }
}

/// A Flux object reference.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectRefDto {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One difference between what a cluster should run and what it reports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingDto {
    /// `version_mismatch`, `digest_mismatch`, `failed`, `silent`, `mixed_versions` or `unmanaged`.
    pub kind: String,
    pub tier: String,
    /// Absent for fleet findings (`mixed_versions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRefDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_tag: Option<String>,
    /// The registry digest stored for the desired tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<String>,
    pub detail: String,
    /// `mixed_versions`: each applied digest and the clusters applying it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, Vec<String>>,
}

impl From<&Finding> for FindingDto {
    fn from(f: &Finding) -> Self {
        FindingDto {
            kind: f.kind.as_str().to_owned(),
            tier: f.tier.clone(),
            cluster: f.cluster.clone(),
            component: f.component.clone(),
            object: f.object.as_ref().map(|o| ObjectRefDto {
                kind: o.kind.clone(),
                namespace: o.namespace.clone(),
                name: o.name.clone(),
            }),
            desired_tag: f.desired_tag.clone(),
            desired_digest: f.desired_digest.clone(),
            applied_revision: f.applied_revision.clone(),
            last_event_at: f.last_event_at.map(time),
            detail: f.detail.clone(),
            digests: f.digests.clone(),
        }
    }
}

/// How many findings of a kind a tier has, fleet-wide.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DriftCountDto {
    pub kind: String,
    pub tier: String,
    pub count: u64,
}

/// A page of drift findings, with the fleet-wide counts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DriftReportDto {
    /// Every finding of the fleet, by kind and tier, whatever the filters.
    pub counts: Vec<DriftCountDto>,
    /// How many findings the filters keep.
    pub total: usize,
    pub items: Vec<FindingDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What a component should run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DesiredDto {
    pub oci_tag: String,
    /// The registry digest stored for the tag.
    pub digest: Option<String>,
    pub interval: String,
}

/// One component on a cluster: desired versus observed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComponentStatusDto {
    pub component: String,
    pub desired: DesiredDto,
    pub kustomization: Option<ObservedObjectDto>,
    pub oci_repository: Option<ObservedObjectDto>,
    /// The kinds of drift it shows; empty when it runs what it should.
    pub drift: Vec<String>,
}

impl From<&ComponentStatus> for ComponentStatusDto {
    fn from(c: &ComponentStatus) -> Self {
        ComponentStatusDto {
            component: c.desired.id.clone(),
            desired: DesiredDto {
                oci_tag: c.desired.oci_tag.clone(),
                digest: c.desired_digest.clone(),
                interval: format!("{}s", c.desired.interval_seconds),
            },
            kustomization: c.kustomization.as_ref().map(ObservedObjectDto::from),
            oci_repository: c.oci_repository.as_ref().map(ObservedObjectDto::from),
            drift: c.drift.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

/// A cluster's desired versus observed state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatusDto {
    pub cluster: String,
    pub tier: String,
    pub revision: i64,
    pub last_event_at: Option<String>,
    pub components: Vec<ComponentStatusDto>,
    /// Objects reporting to this cluster that we did not render.
    pub unmanaged: Vec<ObservedObjectDto>,
    pub findings: Vec<FindingDto>,
}

impl From<&ClusterStatus> for ClusterStatusDto {
    fn from(s: &ClusterStatus) -> Self {
        ClusterStatusDto {
            cluster: s.cluster.clone(),
            tier: s.tier.clone(),
            revision: s.revision,
            last_event_at: s.last_event_at.map(time),
            components: s.components.iter().map(ComponentStatusDto::from).collect(),
            unmanaged: s.unmanaged.iter().map(ObservedObjectDto::from).collect(),
            findings: s.findings.iter().map(FindingDto::from).collect(),
        }
    }
}

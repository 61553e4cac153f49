//! The commands that change clusters and their assignments, every value in them parsed, and
//! the views the service answers with.

use std::collections::BTreeMap;

use catalog::ids::{ComponentPath, Namespace};
use catalog::resolve::Cluster;
use catalog::{ClusterName, ComponentId, OciTag, TierName};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};

use super::version::{version_of, Expected};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::error::{Error, Field};

fn field<T>(name: &'static str, r: Result<T, catalog::Error>) -> Result<T, Error> {
    r.map_err(|e| Error::refused(name, e.to_string()))
}

/// A cluster's labels, each key and value checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    pub fn parse(labels: BTreeMap<String, String>) -> Result<Labels, Error> {
        for (key, value) in &labels {
            catalog::ids::check_label(key, value).map_err(|m| Error::refused(Field::new("labels").key(key), m))?;
        }
        Ok(Labels(labels))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// A cluster's settings as a command states them. Whether the tier exists and admits the tag
/// is for the service to say: that needs the catalog.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub name: ClusterName,
    pub tier: TierName,
    pub labels: Labels,
    pub enabled: bool,
    pub flux_namespace: Namespace,
    pub oci_tag: Option<OciTag>,
}

impl ClusterSettings {
    /// Parses settings as a request or a file states them; a refusal names the field.
    pub fn parse(
        name: &str,
        tier: &str,
        labels: BTreeMap<String, String>,
        enabled: bool,
        flux_namespace: Option<&str>,
        oci_tag: Option<&str>,
    ) -> Result<ClusterSettings, Error> {
        Ok(ClusterSettings {
            name: field("name", ClusterName::parse(name))?,
            tier: field("tier", TierName::parse(tier))?,
            flux_namespace: field(
                "flux_namespace",
                Namespace::parse(flux_namespace.unwrap_or(Cluster::DEFAULT_FLUX_NAMESPACE)),
            )?,
            labels: Labels::parse(labels)?,
            enabled,
            oci_tag: oci_tag.map(|t| field("oci_tag", OciTag::parse(t))).transpose()?,
        })
    }
}

/// Register a cluster running `components` (default: every enabled catalog component).
#[derive(Clone, Debug)]
pub struct CreateCluster {
    pub settings: ClusterSettings,
    pub components: Option<Vec<ComponentId>>,
}

/// Replace a cluster's settings, if it is at the version expected.
#[derive(Clone, Debug)]
pub struct UpdateCluster {
    pub settings: ClusterSettings,
    pub expected: Expected,
}

/// Remove a cluster, if it is at the version expected.
#[derive(Clone, Debug)]
pub struct DeleteCluster {
    pub name: ClusterName,
    pub expected: Expected,
}

/// The longest reason an assignment keeps.
const MAX_REASON: usize = 200;

/// An assignment as a command states it. Whether the tier admits the tag and the expiry lies
/// ahead is for the service to say.
#[derive(Clone, Debug, Default)]
pub struct AssignmentSettings {
    pub enabled: bool,
    pub oci_tag: Option<OciTag>,
    pub component_path: Option<ComponentPath>,
    pub reason: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
}

impl AssignmentSettings {
    /// An assignment with no override.
    pub fn enabled() -> AssignmentSettings {
        AssignmentSettings {
            enabled: true,
            ..Default::default()
        }
    }

    /// Parses an assignment as a request or a file states it; a refusal names the field.
    pub fn parse(
        enabled: bool,
        oci_tag: Option<&str>,
        component_path: Option<&str>,
        reason: Option<String>,
        expires_at: Option<&str>,
    ) -> Result<AssignmentSettings, Error> {
        Ok(AssignmentSettings {
            enabled,
            oci_tag: oci_tag.map(|t| field("oci_tag", OciTag::parse(t))).transpose()?,
            component_path: component_path
                .map(|p| field("component_path", ComponentPath::parse(p)))
                .transpose()?,
            expires_at: expires_at.map(parse_expiry).transpose()?,
            reason: reason.map(parse_reason).transpose()?,
        })
    }
}

/// An expiry as requests state it: RFC 3339.
pub fn parse_expiry(text: &str) -> Result<NaiveDateTime, Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc).naive_utc())
        .map_err(|e| {
            Error::refused(
                "expires_at",
                format!("must be an RFC 3339 time like 2026-12-01T00:00:00Z: {e}"),
            )
        })
}

/// A reason an assignment keeps: at most [`MAX_REASON`] bytes.
pub fn parse_reason(reason: String) -> Result<String, Error> {
    if reason.len() > MAX_REASON {
        return Err(Error::refused(
            "reason",
            format!("must be at most {MAX_REASON} characters"),
        ));
    }
    Ok(reason)
}

/// Set a component's assignment on a cluster, if the assignment (or its absence) is at the
/// version expected.
#[derive(Clone, Debug)]
pub struct PutAssignment {
    pub key: AssignmentKey,
    pub settings: AssignmentSettings,
}

/// The fields a merge patch of an assignment sends: `None` leaves a field as it is,
/// `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Clone, Debug, Default)]
pub struct AssignmentPatch {
    pub enabled: Option<bool>,
    pub oci_tag: Option<Option<OciTag>>,
    pub component_path: Option<Option<ComponentPath>>,
    pub reason: Option<Option<String>>,
    pub expires_at: Option<Option<NaiveDateTime>>,
}

/// Change only the fields `patch` sends of an existing assignment.
#[derive(Clone, Debug)]
pub struct PatchAssignment {
    pub key: AssignmentKey,
    pub patch: AssignmentPatch,
}

/// An assignment named by its cluster and component, and the version the write expects it at
/// (its absence, for a put that creates it, is a version too): what every assignment write acts on.
#[derive(Clone, Debug)]
pub struct AssignmentKey {
    pub cluster: ClusterName,
    pub component: ComponentId,
    pub expected: Expected,
}

/// Times in views as every answer shows them (see `time::rfc3339`).
fn millis<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::time::rfc3339(*t))
}

fn millis_opt<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

/// A cluster as the service shows it. It serializes as the API shows it, field for field, so
/// its [`version`](Self::version) is the ETag clients hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterView {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
    pub flux_namespace: String,
    pub oci_tag: Option<String>,
    /// The cluster's current revision.
    pub revision: i64,
    #[serde(serialize_with = "millis")]
    pub updated_at: NaiveDateTime,
}

impl ClusterView {
    /// The cluster's version, which `If-Match` names.
    pub fn version(&self) -> String {
        version_of(self)
    }
}

impl TryFrom<&ClusterRow> for ClusterView {
    type Error = Error;
    fn try_from(r: &ClusterRow) -> Result<Self, Error> {
        Ok(ClusterView {
            name: r.name.clone(),
            tier: r.tier.clone(),
            labels: super::domain::labels_of(r)?,
            enabled: r.enabled,
            flux_namespace: r.flux_namespace.clone(),
            oci_tag: r.oci_tag.clone(),
            revision: r.revision,
            updated_at: r.updated_at,
        })
    }
}

/// A component's assignment on a cluster as the service shows it; like [`ClusterView`], it
/// serializes as the API shows it, so its version is the ETag clients hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssignmentView {
    pub cluster: String,
    pub component: String,
    pub enabled: bool,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
    pub reason: Option<String>,
    pub author: String,
    #[serde(serialize_with = "millis")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "millis_opt")]
    pub expires_at: Option<NaiveDateTime>,
}

impl AssignmentView {
    /// The assignment's version, which `If-Match` names.
    pub fn version(&self) -> String {
        version_of(self)
    }
}

impl From<&AssignmentRow> for AssignmentView {
    fn from(r: &AssignmentRow) -> Self {
        AssignmentView {
            cluster: r.cluster.clone(),
            component: r.component.clone(),
            enabled: r.enabled,
            oci_tag: r.oci_tag.clone(),
            component_path: r.component_path.clone(),
            reason: r.reason.clone(),
            author: r.author.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

//! Wire shapes of the registry features: sync reports, sync status, moved tags.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::artifacts::rfc3339;
use crate::service::sync::{MovedTag, SyncReport, SyncStatus};

/// A tag that moved in the registry after the catalog pinned its digest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagMoveDto {
    pub tag: String,
    /// The digest the catalog keeps using.
    pub pinned_digest: String,
    /// What the tag points at in the registry now.
    pub registry_digest: String,
    /// RFC 3339 UTC.
    pub detected_at: String,
}

impl From<&MovedTag> for TagMoveDto {
    fn from(m: &MovedTag) -> Self {
        TagMoveDto {
            tag: m.tag.clone(),
            pinned_digest: m.pinned_digest.clone(),
            registry_digest: m.registry_digest.clone(),
            detected_at: rfc3339(m.detected_at),
        }
    }
}

/// How the last sync with the registry went.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncStatusDto {
    /// RFC 3339 UTC.
    pub last_attempt_at: String,
    /// The last sync that succeeded (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
    /// Why the last attempt failed; absent when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Tags the registry listed at the last success.
    pub registry_tags: i64,
    pub duration_ms: i64,
}

impl From<&SyncStatus> for SyncStatusDto {
    fn from(r: &SyncStatus) -> Self {
        SyncStatusDto {
            last_attempt_at: rfc3339(r.last_attempt_at),
            last_success_at: r.last_success_at.map(rfc3339),
            last_error: r.last_error.clone(),
            registry_tags: r.registry_tags,
            duration_ms: r.duration_ms,
        }
    }
}

/// What one sync found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncReportDto {
    pub artifact: String,
    /// RFC 3339 UTC.
    pub synced_at: String,
    /// Every tag the registry lists.
    pub registry_tags: usize,
    /// Listed tags that are not usable OCI tags; not stored.
    pub ignored_tags: Vec<String>,
    /// Tags stored for the first time, with their digest.
    pub new_tags: Vec<String>,
    /// Known tags that got their first digest.
    pub digests_added: Vec<String>,
    /// Tags found moved by this sync; their pinned digest is kept.
    pub moved_tags: Vec<TagMoveDto>,
    pub duration_ms: u64,
}

impl From<&SyncReport> for SyncReportDto {
    fn from(r: &SyncReport) -> Self {
        SyncReportDto {
            artifact: r.artifact.clone(),
            synced_at: rfc3339(r.synced_at),
            registry_tags: r.registry_tags,
            ignored_tags: r.ignored_tags.clone(),
            new_tags: r.new_tags.clone(),
            digests_added: r.digests_added.clone(),
            moved_tags: r.moved.iter().map(Into::into).collect(),
            duration_ms: r.duration_ms,
        }
    }
}

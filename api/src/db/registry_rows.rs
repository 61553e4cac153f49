//! Rows of the registry tables: moved tags, sync status, the publish outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{artifact_syncs, artifact_tag_moves, publish_jobs};

/// A tag whose digest in the registry is no longer the one the catalog pinned.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = artifact_tag_moves)]
pub struct TagMoveRow {
    pub id: i64,
    pub artifact_id: String,
    pub tag: String,
    pub pinned_digest: String,
    pub registry_digest: String,
    pub detected_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = artifact_tag_moves)]
pub struct NewTagMoveRow {
    pub artifact_id: String,
    pub tag: String,
    pub pinned_digest: String,
    pub registry_digest: String,
    pub detected_at: NaiveDateTime,
}

/// The last sync of an artifact with its registry.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = artifact_syncs, treat_none_as_null = true)]
pub struct SyncRow {
    pub artifact_id: String,
    pub last_attempt_at: NaiveDateTime,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub registry_tags: i64,
    pub new_tags: i64,
    pub moved_tags: i64,
    pub duration_ms: i64,
}

/// A cluster revision to push as a Flux artifact (the outbox).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = publish_jobs)]
pub struct PublishJobRow {
    pub id: i64,
    pub cluster: String,
    pub revision: i64,
    pub target: String,
    pub channel: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub digest: Option<String>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = publish_jobs)]
pub struct NewPublishJobRow {
    pub cluster: String,
    pub revision: i64,
    pub target: String,
    pub channel: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

//! Queries over the registry tables: moved tags, sync status, the publish outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::registry_rows::{NewPublishJobRow, NewTagMoveRow, PublishJobRow, SyncRow, TagMoveRow};
use crate::db::schema::{artifact_syncs, artifact_tag_moves, artifact_tags, publish_jobs};
use crate::db::DbConnection;

pub fn moves(conn: &mut DbConnection, artifact: &str) -> Result<Vec<TagMoveRow>> {
    artifact_tag_moves::table
        .filter(artifact_tag_moves::artifact_id.eq(artifact))
        .order(artifact_tag_moves::id)
        .select(TagMoveRow::as_select())
        .load(conn)
}

pub fn move_known(conn: &mut DbConnection, artifact: &str, tag: &str, registry_digest: &str) -> Result<bool> {
    diesel::select(diesel::dsl::exists(
        artifact_tag_moves::table
            .filter(artifact_tag_moves::artifact_id.eq(artifact))
            .filter(artifact_tag_moves::tag.eq(tag))
            .filter(artifact_tag_moves::registry_digest.eq(registry_digest)),
    ))
    .get_result(conn)
}

pub fn insert_move(conn: &mut DbConnection, row: &NewTagMoveRow) -> Result<()> {
    diesel::insert_into(artifact_tag_moves::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn set_first_seen(conn: &mut DbConnection, artifact: &str, tag: &str, at: NaiveDateTime) -> Result<()> {
    diesel::update(artifact_tags::table.find((artifact, tag)))
        .set(artifact_tags::first_seen_at.eq(Some(at)))
        .execute(conn)
        .map(drop)
}

pub fn sync_status(conn: &mut DbConnection, artifact: &str) -> Result<Option<SyncRow>> {
    artifact_syncs::table
        .find(artifact)
        .select(SyncRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces an artifact's sync status. Two syncs of one artifact may finish at once (two
/// replicas, or the periodic sync beside a requested one): the update goes first, and an
/// insert that loses the race to the other's insert becomes an update (the insert runs in a
/// savepoint, so its failure leaves the transaction usable on PostgreSQL).
pub fn put_sync_status(conn: &mut DbConnection, row: &SyncRow) -> Result<()> {
    use diesel::result::{DatabaseErrorKind, Error as Db};
    conn.transaction(|conn| {
        let update = |conn: &mut DbConnection| {
            diesel::update(artifact_syncs::table.find(&row.artifact_id))
                .set(row.clone())
                .execute(conn)
        };
        if update(conn)? > 0 {
            return Ok(());
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(artifact_syncs::table)
                .values(row.clone())
                .execute(conn)
        });
        match inserted {
            Ok(_) => Ok(()),
            Err(Db::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => update(conn).map(drop),
            Err(e) => Err(e),
        }
    })
}

pub fn insert_publish_job(conn: &mut DbConnection, row: &NewPublishJobRow) -> Result<()> {
    diesel::insert_into(publish_jobs::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

/// Pending jobs whose time has come, oldest first.
pub fn due_publish_jobs(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> Result<Vec<PublishJobRow>> {
    publish_jobs::table
        .filter(publish_jobs::state.eq("pending"))
        .filter(publish_jobs::next_attempt_at.le(now))
        .order(publish_jobs::id)
        .limit(limit)
        .select(PublishJobRow::as_select())
        .load(conn)
}

pub fn publish_jobs_of(conn: &mut DbConnection, cluster: &str) -> Result<Vec<PublishJobRow>> {
    publish_jobs::table
        .filter(publish_jobs::cluster.eq(cluster))
        .order(publish_jobs::id.desc())
        .select(PublishJobRow::as_select())
        .load(conn)
}

pub fn publish_done(conn: &mut DbConnection, id: i64, digest: &str, at: NaiveDateTime) -> Result<()> {
    diesel::update(publish_jobs::table.find(id))
        .set((
            publish_jobs::state.eq("done"),
            publish_jobs::digest.eq(Some(digest)),
            publish_jobs::done_at.eq(Some(at)),
            publish_jobs::last_error.eq(None::<String>),
            publish_jobs::attempts.eq(publish_jobs::attempts + 1),
        ))
        .execute(conn)
        .map(drop)
}

pub fn publish_failed(conn: &mut DbConnection, id: i64, error: &str, next: NaiveDateTime) -> Result<()> {
    diesel::update(publish_jobs::table.find(id))
        .set((
            publish_jobs::last_error.eq(Some(error)),
            publish_jobs::next_attempt_at.eq(next),
            publish_jobs::attempts.eq(publish_jobs::attempts + 1),
        ))
        .execute(conn)
        .map(drop)
}

//! Hold queries: what no rollout, release or hotfix may move for now.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::models::{HoldRow, NewHoldRow};
use crate::db::schema::holds;
use crate::db::DbConnection;

/// Inserts a hold and returns its id. Writers hold the write lock, so the largest id is ours.
pub fn insert(conn: &mut DbConnection, row: &NewHoldRow) -> Result<i64> {
    diesel::insert_into(holds::table).values(row.clone()).execute(conn)?;
    holds::table
        .select(diesel::dsl::max(holds::id))
        .first::<Option<i64>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Option<HoldRow>> {
    holds::table
        .find(id)
        .select(HoldRow::as_select())
        .first(conn)
        .optional()
}

/// Every hold, expired ones included, oldest first.
pub fn all(conn: &mut DbConnection) -> Result<Vec<HoldRow>> {
    holds::table.order(holds::id).select(HoldRow::as_select()).load(conn)
}

/// Holds in force at `now`: no expiry, or one still ahead.
pub fn active(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<HoldRow>> {
    holds::table
        .filter(holds::expires_at.is_null().or(holds::expires_at.gt(now)))
        .order(holds::id)
        .select(HoldRow::as_select())
        .load(conn)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> Result<usize> {
    diesel::delete(holds::table.find(id)).execute(conn)
}

//! Rollout queries: rollouts, their steps and the pins applied steps leave for resolution.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::models::{NewRolloutRow, RolloutApprovalRow, RolloutPinRow, RolloutRow, RolloutStepRow};
use crate::db::schema::{rollout_approvals, rollout_pins, rollout_steps, rollouts};
use crate::db::DbConnection;

/// Inserts a rollout and returns its id. Writers hold the write lock, so the largest id is
/// ours (`.returning()` does not compile on the multi-backend connection).
pub fn insert(conn: &mut DbConnection, row: &NewRolloutRow) -> Result<i64> {
    diesel::insert_into(rollouts::table).values(row.clone()).execute(conn)?;
    rollouts::table
        .select(diesel::dsl::max(rollouts::id))
        .first::<Option<i64>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Option<RolloutRow>> {
    rollouts::table
        .find(id)
        .select(RolloutRow::as_select())
        .first(conn)
        .optional()
}

/// Every rollout, newest first.
pub fn all(conn: &mut DbConnection) -> Result<Vec<RolloutRow>> {
    rollouts::table
        .order(rollouts::id.desc())
        .select(RolloutRow::as_select())
        .load(conn)
}

/// Rollouts in any of `states`.
pub fn in_states(conn: &mut DbConnection, states: &[&str]) -> Result<Vec<RolloutRow>> {
    rollouts::table
        .filter(rollouts::state.eq_any(states))
        .order(rollouts::id)
        .select(RolloutRow::as_select())
        .load(conn)
}

pub fn set_state(conn: &mut DbConnection, id: i64, state: &str, current_step: i64, at: NaiveDateTime) -> Result<()> {
    diesel::update(rollouts::table.find(id))
        .set((
            rollouts::state.eq(state),
            rollouts::current_step.eq(current_step),
            rollouts::updated_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// The stored name of the halted state (the service names states as a type).
const HALTED: &str = "halted";

/// Stops a rollout: state `halted`, with why.
pub fn set_halted(conn: &mut DbConnection, id: i64, reason: &str, at: NaiveDateTime) -> Result<()> {
    diesel::update(rollouts::table.find(id))
        .set((
            rollouts::state.eq(HALTED),
            rollouts::halted_reason.eq(Some(reason)),
            rollouts::updated_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// Claims a rollout's row for this transaction: `false` when another replica holds it, which
/// is then skipped rather than waited for. Writes already queue on the write lock first, so
/// today the claim never finds the row taken; it keeps a step to one replica should writes to
/// different rollouts ever stop sharing that lock. SQLite has one writer at a time anyway.
pub fn claim(conn: &mut DbConnection, id: i64) -> Result<bool> {
    match conn {
        DbConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Claimed {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                #[allow(dead_code)]
                id: i64,
            }
            let rows: Vec<Claimed> = diesel::sql_query("SELECT id FROM rollouts WHERE id = $1 FOR UPDATE SKIP LOCKED")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .load(pg)?;
            Ok(!rows.is_empty())
        }
        DbConnection::Sqlite(_) => Ok(true),
    }
}

pub fn insert_step(conn: &mut DbConnection, row: &RolloutStepRow) -> Result<()> {
    diesel::insert_into(rollout_steps::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

/// A rollout's steps in order.
pub fn steps(conn: &mut DbConnection, rollout: i64) -> Result<Vec<RolloutStepRow>> {
    rollout_steps::table
        .filter(rollout_steps::rollout.eq(rollout))
        .order(rollout_steps::step_index)
        .select(RolloutStepRow::as_select())
        .load(conn)
}

/// Marks a step applied, with what it left out (JSON array) because it was held.
pub fn mark_step_applied(
    conn: &mut DbConnection,
    rollout: i64,
    index: i64,
    at: NaiveDateTime,
    skipped: &str,
) -> Result<()> {
    diesel::update(rollout_steps::table.find((rollout, index)))
        .set((
            rollout_steps::applied_at.eq(Some(at)),
            rollout_steps::skipped.eq(skipped),
        ))
        .execute(conn)
        .map(drop)
}

/// Records the clusters a step gate reported failed after a step (JSON array).
pub fn set_step_failed(conn: &mut DbConnection, rollout: i64, index: i64, failed: &str) -> Result<()> {
    diesel::update(rollout_steps::table.find((rollout, index)))
        .set(rollout_steps::failed.eq(failed))
        .execute(conn)
        .map(drop)
}

pub fn pin(conn: &mut DbConnection, cluster: &str, component: &str) -> Result<Option<RolloutPinRow>> {
    rollout_pins::table
        .find((cluster, component))
        .select(RolloutPinRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_pin(conn: &mut DbConnection, row: &RolloutPinRow) -> Result<()> {
    diesel::insert_into(rollout_pins::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

/// The pins on one cluster, by component.
pub fn pins_of_cluster(conn: &mut DbConnection, cluster: &str) -> Result<Vec<RolloutPinRow>> {
    rollout_pins::table
        .filter(rollout_pins::cluster.eq(cluster))
        .order(rollout_pins::component)
        .select(RolloutPinRow::as_select())
        .load(conn)
}

/// Every pin, by cluster then component.
pub fn all_pins(conn: &mut DbConnection) -> Result<Vec<RolloutPinRow>> {
    rollout_pins::table
        .order((rollout_pins::cluster, rollout_pins::component))
        .select(RolloutPinRow::as_select())
        .load(conn)
}

pub fn pins_of_rollout(conn: &mut DbConnection, rollout: i64) -> Result<Vec<RolloutPinRow>> {
    rollout_pins::table
        .filter(rollout_pins::rollout.eq(rollout))
        .order((rollout_pins::cluster, rollout_pins::component))
        .select(RolloutPinRow::as_select())
        .load(conn)
}

pub fn delete_pins_of_rollout(conn: &mut DbConnection, rollout: i64) -> Result<usize> {
    diesel::delete(rollout_pins::table.filter(rollout_pins::rollout.eq(rollout))).execute(conn)
}

pub fn delete_pins_of_cluster(conn: &mut DbConnection, cluster: &str) -> Result<usize> {
    diesel::delete(rollout_pins::table.filter(rollout_pins::cluster.eq(cluster))).execute(conn)
}

/// A rollout's approvals, by wave then time.
pub fn approvals(conn: &mut DbConnection, rollout: i64) -> Result<Vec<RolloutApprovalRow>> {
    rollout_approvals::table
        .filter(rollout_approvals::rollout.eq(rollout))
        .order((
            rollout_approvals::wave,
            rollout_approvals::approved_at,
            rollout_approvals::actor,
        ))
        .select(RolloutApprovalRow::as_select())
        .load(conn)
}

pub fn insert_approval(conn: &mut DbConnection, row: &RolloutApprovalRow) -> Result<()> {
    diesel::insert_into(rollout_approvals::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

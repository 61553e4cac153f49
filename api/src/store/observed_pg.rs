//! PostgreSQL's statements for a batch of rows (events here, revisions in `bulk`): each column bound as one array and unnested,
//! so a statement's text is the same for any batch size. PostgreSQL then parses and plans it
//! once per connection and runs it in one round trip, where a multi-row `VALUES` list is a new
//! statement (prepared, then run) every time.

use std::marker::PhantomData;

use chrono::NaiveDateTime;
use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use crate::db::models_observed::{NewFluxEventRow, ObservedRow};
use crate::service::observed::readiness;

/// Stores the events not stored already; the (cluster, key) of each new one.
pub fn insert_events(conn: &mut PgConnection, rows: &[NewFluxEventRow]) -> QueryResult<Vec<(String, String)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let columns = vec![
        text(rows, |r| &r.cluster),
        text(rows, |r| &r.event_key),
        text(rows, |r| &r.kind),
        text(rows, |r| &r.namespace),
        text(rows, |r| &r.name),
        optional(rows, |r| r.component.as_deref()),
        text(rows, |r| &r.severity),
        text(rows, |r| &r.reason),
        text(rows, |r| &r.message),
        optional(rows, |r| r.revision.as_deref()),
        optional(rows, |r| r.reporting_controller.as_deref()),
        Column::Time(rows.iter().map(|r| r.event_at).collect()),
        Column::Time(rows.iter().map(|r| r.received_at).collect()),
    ];
    Unnest::<InsertEvents>::new(columns).get_results(conn)
}

/// Creates or merges the observed rows of distinct objects by the readiness model's rule.
pub fn upsert_observed(conn: &mut PgConnection, rows: &[ObservedRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = vec![
        text(rows, |r| &r.cluster),
        text(rows, |r| &r.kind),
        text(rows, |r| &r.namespace),
        text(rows, |r| &r.name),
        optional(rows, |r| r.component.as_deref()),
        text(rows, |r| &r.state),
        text(rows, |r| &r.reason),
        text(rows, |r| &r.message),
        optional(rows, |r| r.last_revision.as_deref()),
        optional(rows, |r| r.applied_revision.as_deref()),
        optional(rows, |r| r.applied_tag.as_deref()),
        optional(rows, |r| r.applied_digest.as_deref()),
        Column::Time(rows.iter().map(|r| r.event_at).collect()),
        Column::Time(rows.iter().map(|r| r.received_at).collect()),
        Column::OptionalTime(rows.iter().map(|r| r.applied_at).collect()),
    ];
    Unnest::<UpsertObserved>::new(columns).execute(conn).map(drop)
}

/// One column of a batch, bound as one array.
pub(super) enum Column<'a> {
    Text(Vec<&'a str>),
    Optional(Vec<Option<&'a str>>),
    BigInt(Vec<i64>),
    Bool(Vec<bool>),
    Time(Vec<NaiveDateTime>),
    OptionalTime(Vec<Option<NaiveDateTime>>),
}

pub(super) fn text<'a, T>(rows: &'a [T], f: impl Fn(&'a T) -> &'a str) -> Column<'a> {
    Column::Text(rows.iter().map(f).collect())
}

pub(super) fn optional<'a, T>(rows: &'a [T], f: impl Fn(&'a T) -> Option<&'a str>) -> Column<'a> {
    Column::Optional(rows.iter().map(f).collect())
}

/// What a statement does with the unnested rows: the SQL around `SELECT * FROM unnest(…)`.
pub(super) trait Shape: 'static {
    const BEFORE: &'static str;
    fn after() -> &'static str;
}

struct InsertEvents;

impl Shape for InsertEvents {
    const BEFORE: &'static str = "INSERT INTO flux_events (cluster, event_key, kind, namespace, name, component, \
        severity, reason, message, revision, reporting_controller, event_at, received_at)";
    fn after() -> &'static str {
        " ON CONFLICT (cluster, event_key) DO NOTHING RETURNING cluster, event_key"
    }
}

struct UpsertObserved;

// An object's row merges by the readiness model's rule (`service::observed::readiness`), the
// same clause SQLite runs.
impl Shape for UpsertObserved {
    const BEFORE: &'static str = "INSERT INTO observed (cluster, kind, namespace, name, component, state, reason, \
        message, last_revision, applied_revision, applied_tag, applied_digest, event_at, received_at, applied_at)";
    fn after() -> &'static str {
        static CLAUSE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        CLAUSE.get_or_init(readiness::upsert_clause)
    }
}

/// A statement of shape `S` over the rows in `columns`.
pub(super) struct Unnest<'a, S> {
    columns: Vec<Column<'a>>,
    shape: PhantomData<S>,
}

impl<'a, S> Unnest<'a, S> {
    pub(super) fn new(columns: Vec<Column<'a>>) -> Self {
        Unnest {
            columns,
            shape: PhantomData,
        }
    }
}

/// Each shape is its own statement in the connection's cache of prepared statements.
impl<S: Shape> QueryId for Unnest<'_, S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Unnest<'_, InsertEvents> {
    type SqlType = (Text, Text);
}

impl<S> RunQueryDsl<PgConnection> for Unnest<'_, S> {}

impl<S: Shape> QueryFragment<Pg> for Unnest<'_, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(S::BEFORE);
        out.push_sql(" SELECT * FROM unnest(");
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            match column {
                Column::Text(v) => out.push_bind_param::<Array<Text>, _>(v)?,
                Column::Optional(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v)?,
                Column::BigInt(v) => out.push_bind_param::<Array<BigInt>, _>(v)?,
                Column::Bool(v) => out.push_bind_param::<Array<Bool>, _>(v)?,
                Column::Time(v) => out.push_bind_param::<Array<Timestamp>, _>(v)?,
                Column::OptionalTime(v) => out.push_bind_param::<Array<Nullable<Timestamp>>, _>(v)?,
            }
        }
        out.push_sql(")");
        out.push_sql(S::after());
        Ok(())
    }
}

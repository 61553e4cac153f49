//! Rows of what clusters report back: observed Flux objects, their events, event secrets.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{cluster_event_secrets, flux_events, observed};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = observed)]
pub struct ObservedRow {
    pub cluster: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub component: Option<String>,
    pub state: String,
    pub reason: String,
    pub message: String,
    pub last_revision: Option<String>,
    pub applied_revision: Option<String>,
    pub applied_tag: Option<String>,
    pub applied_digest: Option<String>,
    pub event_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    /// The applied revision's success event's own time.
    pub applied_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = flux_events)]
pub struct NewFluxEventRow {
    pub cluster: String,
    pub event_key: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub component: Option<String>,
    pub severity: String,
    pub reason: String,
    pub message: String,
    pub revision: Option<String>,
    pub reporting_controller: Option<String>,
    pub event_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = flux_events)]
pub struct FluxEventRow {
    pub id: i64,
    pub cluster: String,
    pub event_key: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub component: Option<String>,
    pub severity: String,
    pub reason: String,
    pub message: String,
    pub revision: Option<String>,
    pub reporting_controller: Option<String>,
    pub event_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cluster_event_secrets)]
pub struct EventSecretRow {
    pub cluster: String,
    pub secret: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// What one cluster proved of one component's build (see `store::evidence`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::build_evidence)]
pub struct EvidenceRow {
    pub cluster: String,
    pub component: String,
    pub digest: String,
    pub tag: Option<String>,
    pub ready_since: NaiveDateTime,
    pub ready_until: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
}

/// A promotion as stored (see `service::promotions`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = super::schema::promotions)]
pub struct PromotionRow {
    pub id: i64,
    pub source: String,
    pub target_tier: String,
    pub components: String,
    pub rollout: Option<i64>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub reason: Option<String>,
    pub break_glass: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::promotions)]
pub struct NewPromotionRow {
    pub source: String,
    pub target_tier: String,
    pub components: String,
    pub rollout: Option<i64>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub reason: Option<String>,
    pub break_glass: Option<String>,
}

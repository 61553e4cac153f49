//! `/api/v1/audit`: the append-only log of every write, newest first.

use actix_web::{get, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::Page;
use super::extract::query;
use super::paging;
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::Error;
use crate::service::history::{self, AuditEntry};
use crate::store::AuditQuery;

const CURSOR_KIND: &str = "audit";

/// One write, as the audit log keeps it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// What was done, as `resource.verb`: `cluster.create`, `assignment.put`, `cluster.rollback`, …
    pub action: String,
    /// What it was done to: `cluster/{name}`, `cluster/{name}/components/{id}`, `catalog`, …
    pub target: String,
    /// The target before the write; `null` when it did not exist.
    #[schema(value_type = Object, nullable = true)]
    pub before: Option<Value>,
    /// The target after the write; `null` when it no longer exists.
    #[schema(value_type = Object, nullable = true)]
    pub after: Option<Value>,
    /// The `X-Request-Id` of the request that wrote it (or one the service made up).
    pub request_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditListQuery {
    /// Only entries about exactly this target, e.g. `cluster/prod-eu-1` (the cluster's own
    /// settings; its assignments are `cluster/prod-eu-1/components/{id}`). For everything that
    /// changed what a cluster runs, use `cluster`.
    target: Option<String>,
    /// Every entry that changed what this cluster runs, or was about it: its own changes, its
    /// assignments and overrides, hotfixes, releases, rollout steps and catalog changes that
    /// reached it.
    cluster: Option<String>,
    /// Only entries written by this actor.
    actor: Option<String>,
    /// Only entries at or after this RFC 3339 time.
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryDto {
            id: e.id,
            at: crate::service::time::rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            request_id: e.request_id.clone(),
        }
    }
}

fn since(raw: &str) -> Result<chrono::NaiveDateTime, Error> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc).naive_utc())
        .map_err(|e| {
            // An unescaped `+` in a query string arrives as a space.
            let hint = match raw.contains(' ') {
                true => "; write a `+` offset as %2B, or use Z",
                false => "",
            };
            Error::field(
                "since",
                format!("must be an RFC 3339 time like 2026-12-01T00:00:00Z, not {raw:?} ({e}){hint}"),
            )
        })
}

/// List audit entries, newest first.
#[utoipa::path(tag = "history", params(AuditListQuery),
    responses((status = 200, body = Page<AuditEntryDto>), (status = 422, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/audit")]
pub async fn list_audit(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: AuditListQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let filter = AuditQuery {
        target: q.target,
        cluster: q.cluster,
        actor: q.actor,
        since: q.since.as_deref().map(since).transpose()?,
        before: paging::decode_cursor(CURSOR_KIND, q.cursor.as_deref())?,
        limit: limit + 1,
    };
    let rows = blocking(move || history::audit(&state, &filter)).await?;
    let page = paging::page(rows, limit, CURSOR_KIND, |r| r.id, |r| AuditEntryDto::from(r));
    Ok(HttpResponse::Ok().json(page))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_audit);
}

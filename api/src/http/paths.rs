//! Paths in use: every version directory of the platform repo tree that something still
//! points at, and who, for `platform-catalog prune --server`.

use actix_web::{get, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::Page;
use super::extract::query;
use super::problem::Problem;
use super::{blocking, paging, Shared};
use crate::error::Error;
use crate::service::paths::{self, PathUse, UseKind};
use crate::service::time::parse_duration;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InUseQuery {
    /// Revisions a cluster ran within this long (e.g. `30d`, the default) count as in use: a
    /// rollback to them must still build.
    #[param(pattern = r"^[1-9][0-9]{0,9}[smhdw]$")]
    pub rollback_window: Option<String>,
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// A path and everything that uses it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PathInUseDto {
    /// The component path, e.g. `core/cert-manager/1.14.5`.
    pub path: String,
    pub uses: Vec<PathUseDto>,
}

/// One use of a path; which ids are present depends on the kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PathUseDto {
    /// `default` (the catalog's), `override`, `pin` (a cluster-wide tag pin runs it),
    /// `rollout` (an active or halted rollout moves from or to it), `hold` (a hold keeps a
    /// cluster on it), `hotfix` or `revision` (a cluster ran it within the rollback window).
    #[schema(value_type = String, pattern = "^(default|override|pin|rollout|hold|hotfix|revision)$")]
    pub kind: UseKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

impl From<&PathUse> for PathUseDto {
    fn from(u: &PathUse) -> Self {
        PathUseDto {
            kind: u.kind,
            component: u.component.clone(),
            cluster: u.cluster.clone(),
            rollout: u.rollout,
            hold: u.hold,
            revision: u.revision,
        }
    }
}

/// Every component path something uses, in path order, with who uses it: what pruning the
/// platform repo tree must keep.
#[utoipa::path(tag = "paths", params(InUseQuery),
    responses((status = 200, description = "A page of paths in use", body = Page<PathInUseDto>),
        (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "A bad `rollback_window`, `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/paths/in-use")]
pub async fn list_paths_in_use(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: InUseQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let window = parse_duration(q.rollback_window.as_deref().unwrap_or(paths::DEFAULT_ROLLBACK_WINDOW))
        .map_err(|e| Error::field("rollback_window", e))?;
    let now = state.clock.now();
    let in_use = blocking(move || paths::in_use(&state, window, now)).await?;
    let items = in_use
        .iter()
        .map(|(path, uses)| PathInUseDto {
            path: path.clone(),
            uses: uses.iter().map(PathUseDto::from).collect(),
        })
        .collect();
    let page = paging::page_sorted(items, limit, "paths", q.cursor.as_deref(), |p: &PathInUseDto| {
        p.path.clone()
    })?;
    Ok(HttpResponse::Ok().json(page))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_paths_in_use);
}

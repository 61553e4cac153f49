//! `/api/v1/promotions`: moving the set a source runs ready to a target tier as one rollout,
//! and the evidence record of each promotion.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use catalog::{ClusterName, ComponentId, TierName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{BreakGlassInput, Page, TagPathDto};
use super::extract::{caller_breaking_glass, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::rollout_dto::WaveInput;
use super::{blocking, Shared};
use crate::error::{Error, Field};
use crate::service::promotions::{self, PromoteFrom, PromotionSpec, PromotionView, Retag, Source};
use crate::service::rollouts::CreateWave;
use crate::service::time::rfc3339;

/// Where the builds come from: a tier (every enabled cluster of it) or one cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum PromotionSourceDto {
    #[schema(example = "qa")]
    Tier(String),
    #[schema(example = "qa-eu-1")]
    Cluster(String),
}

/// The tier a promotion moves the builds to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionTargetDto {
    #[schema(
        pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        min_length = 1,
        max_length = 63,
        example = "prod"
    )]
    pub tier: String,
}

/// Promote each build under another tag: a build whose tag starts with `from_prefix` gets the
/// tag with `to_prefix` instead, added to the same manifest in the registry (same digest, no
/// rebuild) and registered in the catalog; the target clusters get that tag.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from_prefix": "staging-", "to_prefix": "production-"}))]
pub struct RetagInput {
    #[schema(example = "staging-", min_length = 1)]
    pub from_prefix: String,
    #[schema(example = "production-")]
    pub to_prefix: String,
}

/// A promotion: the (tag, digest, path) of each component the source runs and reports ready,
/// moved over the target tier by one rollout (the tier's default waves unless `waves` given).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionInput {
    pub from: PromotionSourceDto,
    pub to: PromotionTargetDto,
    /// The components to promote; absent: every component the source runs.
    #[serde(default)]
    pub components: Option<Vec<String>>,
    #[serde(default)]
    pub waves: Option<Vec<WaveInput>>,
    /// Plan only: nothing is stored (as `?dry_run=true`).
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: Option<String>,
    /// Admin only: skip the target tier's evidence rule for this promotion, saying why.
    #[serde(default)]
    pub break_glass: Option<BreakGlassInput>,
    /// Promote the builds under a target tag (a prefix swapped), added in the registry first.
    #[serde(default)]
    pub retag: Option<RetagInput>,
}

/// One source cluster's evidence for a promoted build.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceEvidenceDto {
    pub cluster: String,
    /// `tag@digest`, as its Flux reported it applied.
    pub applied_revision: String,
    /// Since when it has reported the build ready.
    pub ready_since: String,
}

/// A target cluster of one promoted component: what it reports, and what a rollback returns it to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotionTargetReportDto {
    pub cluster: String,
    /// Its Kustomization's observed state; absent before it reports.
    pub state: Option<String>,
    pub applied_revision: Option<String>,
    pub applied_digest: Option<String>,
    /// The tag and path it ran before the promotion: where aborting the rollout returns it.
    pub returns_to: Option<TagPathDto>,
}

/// A promoted component: its build, the evidence it was taken on, and its targets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotedComponentDto {
    pub component: String,
    pub artifact: String,
    pub oci_tag: String,
    pub digest: String,
    pub component_path: String,
    pub sources: Vec<SourceEvidenceDto>,
    /// The tag the targets get when the promotion retagged the build (same `digest`); absent:
    /// they get `oci_tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tag: Option<String>,
    pub targets: Vec<PromotionTargetReportDto>,
}

/// Who approved a wave of the promotion's rollout, and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotionApprovalDto {
    /// The wave's index in the rollout.
    pub wave: i64,
    pub by: String,
    pub at: String,
}

/// A promotion's evidence record. On a dry run nothing is stored: `dry_run` is true and `id`,
/// `rollout` and `rollout_state` are absent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotionDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub from: PromotionSourceDto,
    pub to: PromotionTargetDto,
    pub components: Vec<PromotedComponentDto>,
    /// The rollout that moves the set; its approvals and steps are the rollout's.
    pub rollout: Option<i64>,
    pub rollout_state: Option<String>,
    /// The approvals the rollout's waves were given, oldest first.
    pub approvals: Vec<PromotionApprovalDto>,
    pub requested_by: String,
    pub created_at: String,
    pub reason: Option<String>,
    /// The reason given when an admin skipped the evidence rule.
    pub break_glass: Option<String>,
    /// Set on a dry run: nothing was stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl From<&PromotionView> for PromotionDto {
    fn from(v: &PromotionView) -> Self {
        PromotionDto {
            id: Some(v.id),
            from: match &v.from {
                Source::Tier(t) => PromotionSourceDto::Tier(t.clone()),
                Source::Cluster(c) => PromotionSourceDto::Cluster(c.clone()),
            },
            to: PromotionTargetDto {
                tier: v.to_tier.clone(),
            },
            components: v.components.iter().map(component_dto).collect(),
            rollout: v.rollout,
            rollout_state: v.rollout_state.clone(),
            approvals: (v.approvals.iter())
                .map(|a| PromotionApprovalDto {
                    wave: a.wave,
                    by: a.by.clone(),
                    at: rfc3339(a.at),
                })
                .collect(),
            requested_by: v.requested_by.clone(),
            created_at: v.created_at.clone(),
            reason: v.reason.clone(),
            break_glass: v.break_glass.clone(),
            dry_run: false,
        }
    }
}

fn component_dto(
    (p, targets): &(promotions::PromotedComponent, Vec<promotions::TargetReport>),
) -> PromotedComponentDto {
    PromotedComponentDto {
        component: p.component.clone(),
        artifact: p.artifact.clone(),
        oci_tag: p.oci_tag.clone(),
        digest: p.digest.clone(),
        component_path: p.component_path.clone(),
        sources: p
            .sources
            .iter()
            .map(|s| SourceEvidenceDto {
                cluster: s.cluster.clone(),
                applied_revision: s.applied_revision.clone(),
                ready_since: s.ready_since.clone(),
            })
            .collect(),
        target_tag: p.target_tag.clone(),
        targets: targets
            .iter()
            .map(|t| PromotionTargetReportDto {
                cluster: t.cluster.clone(),
                state: t.state.clone(),
                applied_revision: t.applied_revision.clone(),
                applied_digest: t.applied_digest.clone(),
                returns_to: t.returns_to.as_ref().map(|r| TagPathDto {
                    oci_tag: r.oci_tag.clone(),
                    component_path: r.component_path.clone(),
                }),
            })
            .collect(),
    }
}

/// Promote what a tier (or one cluster) runs ready to another tier: every component's build
/// must have the target tier's evidence; the answer is the promotion's record, with the id of
/// the rollout (planned, not yet started) that moves the set.
#[utoipa::path(tag = "rollouts", params(WriteParams), request_body = PromotionInput,
    responses((status = 201, body = PromotionDto), (status = 200, description = "Dry run: the promotion as it would be", body = PromotionDto),
        (status = 400, body = Problem), (status = 403, description = "`break_glass` from a caller who is not an admin", body = Problem),
        (status = 409, description = "An active rollout already moves a component on a target cluster, or a `retag` target tag is held at another digest (both named)", body = Problem), (status = 413, body = Problem),
        (status = 422, description = "Components whose evidence is missing (each named in `errors`), an unknown tier, cluster or component, or a field is invalid", body = Problem),
        (status = 503, description = "The registry failed to add a `retag` target tag (registry and tag named); nothing was written", body = Problem)),
    extensions(("x-required-role" = json!("operator"))))]
#[post("/promotions")]
pub async fn create_promotion(
    state: Shared,
    req: HttpRequest,
    body: Body<PromotionInput>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let mut input = body.0;
    let caller = caller_breaking_glass(&req, input.break_glass.take())?;
    let dry_run = params.dry_run || input.dry_run;
    let spec = PromotionSpec {
        from: match input.from {
            PromotionSourceDto::Tier(t) => {
                PromoteFrom::Tier(Field::new("from").field("tier").parsed(TierName::parse(&t))?)
            }
            PromotionSourceDto::Cluster(c) => {
                PromoteFrom::Cluster(Field::new("from").field("cluster").parsed(ClusterName::parse(&c))?)
            }
        },
        to_tier: Field::new("to").field("tier").parsed(TierName::parse(&input.to.tier))?,
        components: (input.components)
            .map(|list| {
                let each = list.iter().enumerate();
                each.map(|(i, c)| Field::new("components").index(i).parsed(ComponentId::parse(c)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
        waves: (input.waves)
            .map(|list| list.into_iter().enumerate().map(CreateWave::try_from).collect())
            .transpose()?,
        reason: input.reason,
        retag: (input.retag)
            .map(|r| Retag::parse(&r.from_prefix, &r.to_prefix))
            .transpose()?,
    };
    let outcome = blocking(move || promotions::promote(&state, &caller, spec, dry_run)).await?;
    let mut dto = PromotionDto::from(&outcome.value);
    Ok(match outcome.dry_run {
        true => {
            // The rows a dry run planned were rolled back: no id it shows would exist.
            (dto.dry_run, dto.id, dto.rollout, dto.rollout_state) = (true, None, None, None);
            HttpResponse::Ok().json(dto)
        }
        false => HttpResponse::Created().json(dto),
    })
}

/// List promotions, newest first, a page at a time.
#[utoipa::path(tag = "rollouts", params(PageQuery),
    responses((status = 200, description = "A page of promotions", body = Page<PromotionDto>), (status = 422, description = "A bad `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/promotions")]
pub async fn list_promotions(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let before = paging::decode_cursor("promotions", q.cursor.as_deref())?;
    let rows = blocking(move || promotions::page(&state, before, limit + 1)).await?;
    let page = paging::page(rows, limit, "promotions", |v| v.id, |v| PromotionDto::from(v));
    Ok(HttpResponse::Ok().json(page))
}

/// Show a promotion's evidence record: per component the source clusters, their applied
/// revision and since when ready; the target clusters' applied digests as they report them and
/// what each returns to on rollback; who asked, who approved the rollout's waves and when.
#[utoipa::path(tag = "rollouts", params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = PromotionDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/promotions/{id}")]
pub async fn get_promotion(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let raw = id.into_inner();
    let id = raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(Error::NotFound {
        kind: "promotion",
        name: raw,
    })?;
    let view = blocking(move || promotions::get(&state, id)).await?;
    Ok(HttpResponse::Ok().json(PromotionDto::from(&view)))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_promotion)
        .service(list_promotions)
        .service(get_promotion);
}

//! Catalog components: every change is a new catalog revision, validated as a whole.

use catalog::document::component_document;
use catalog::Component;
use serde_json::Value;

use super::{AppState, Caller, Ctx, Outcome};
use crate::error::{Error, FieldError};
use crate::store;

pub fn list(state: &AppState) -> Result<(i64, Vec<Component>), Error> {
    let mut conn = state.conn()?;
    let (revision, catalog) = state.catalog(&mut conn)?;
    Ok((revision, catalog.components().to_vec()))
}

pub fn get(state: &AppState, id: &str) -> Result<Component, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    catalog.component(id).cloned().ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "component",
        name: id.to_owned(),
    }
}

/// Adds a component. `doc` is the component's document (the COMPONENTS.yaml fields).
pub fn create(state: &AppState, caller: &Caller, doc: Value, dry_run: bool) -> Result<Outcome<Component>, Error> {
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    state.write(caller, dry_run, &format!("component {id} created"), |ctx| {
        if ctx.catalog().component(&id).is_some() {
            return Err(Error::Conflict(format!(
                "component {id:?} exists already; PUT /api/v1/components/{id} to change it"
            )));
        }
        let component = put_component(ctx, &id, doc.clone(), None)?;
        ctx.audit(
            "component.create",
            &target(&id),
            None::<&Value>,
            Some(&component_document(&component)),
        );
        Ok(component)
    })
}

/// Replaces a component with `doc`; `check` refuses when the current one is not what the
/// caller read (`If-Match`).
pub fn replace(
    state: &AppState,
    caller: &Caller,
    id: &str,
    doc: Value,
    check: impl Fn(&Component) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<Component>, Error> {
    if doc.get("id").and_then(Value::as_str) != Some(id) {
        return Err(Error::field("$.id", format!("must be {id:?}, the id in the path")));
    }
    update(state, caller, id, check, dry_run, |_| Ok(doc.clone()))
}

/// Applies a JSON merge patch (RFC 7396) to a component.
pub fn patch(
    state: &AppState,
    caller: &Caller,
    id: &str,
    patch: Value,
    check: impl Fn(&Component) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<Component>, Error> {
    if !patch.is_object() {
        return Err(Error::field("$", "a merge patch must be a JSON object"));
    }
    update(state, caller, id, check, dry_run, |before| {
        let mut doc = component_document(before);
        super::merge_patch(&mut doc, &patch);
        if doc.get("id").and_then(Value::as_str) != Some(id) {
            return Err(Error::field(
                "$.id",
                "a component's id cannot change; create a new one instead",
            ));
        }
        Ok(doc)
    })
}

/// The shared part of replace and patch: `new_doc` builds the component's new document from
/// the current one, which is then validated with the whole catalog and audited.
fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    check: impl Fn(&Component) -> Result<(), Error>,
    dry_run: bool,
    new_doc: impl Fn(&Component) -> Result<Value, Error>,
) -> Result<Outcome<Component>, Error> {
    state.write(caller, dry_run, &format!("component {id} changed"), |ctx| {
        let before = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
        check(&before)?;
        let doc = new_doc(&before)?;
        let after = put_component(ctx, id, doc, Some(&before))?;
        if (&after.oci_tag, &after.component_path) != (&before.oci_tag, &before.component_path) {
            super::rollouts::refuse_if_moving(ctx.conn, [id], "changing its tag or path")?;
        }
        ctx.audit(
            "component.update",
            &target(id),
            Some(&component_document(&before)),
            Some(&component_document(&after)),
        );
        Ok(after)
    })
}

/// Removes a component; refused while clusters use it unless `force`, which also removes it
/// from those clusters.
pub fn delete(
    state: &AppState,
    caller: &Caller,
    id: &str,
    check: impl FnOnce(&Component) -> Result<(), Error>,
    force: bool,
    dry_run: bool,
) -> Result<Outcome<()>, Error> {
    state.write(caller, dry_run, &format!("component {id} deleted"), |ctx| {
        let before = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
        check(&before)?;
        let users = store::clusters_using(ctx.conn, id)?;
        if !users.is_empty() && !force {
            return Err(Error::Conflict(format!(
                "component {id} is still used by {} cluster(s) ({}); add ?force=true to remove it from them too",
                users.len(),
                users.join(", ")
            )));
        }
        store::delete_assignments_of(ctx.conn, id)?;
        let mut catalog_doc = ctx.catalog().to_document();
        if let Some(list) = catalog_doc.get_mut("components").and_then(Value::as_array_mut) {
            list.retain(|c| c.get("id").and_then(Value::as_str) != Some(id));
        }
        ctx.set_catalog(catalog_doc, "api")?;
        ctx.audit(
            "component.delete",
            &target(id),
            Some(&component_document(&before)),
            None::<&Value>,
        );
        Ok(())
    })
}

fn target(id: &str) -> String {
    format!("component/{id}")
}

/// Puts `doc` into the catalog in place of `id` (or at the end), validates the whole catalog,
/// and checks the component's own tag against tiers that require known tags.
fn put_component(ctx: &mut Ctx<'_>, id: &str, doc: Value, before: Option<&Component>) -> Result<Component, Error> {
    let mut catalog_doc = ctx.catalog().to_document();
    let list = catalog_doc
        .get_mut("components")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Error::Internal("a catalog document without components".into()))?;
    let index = list
        .iter()
        .position(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .unwrap_or(list.len());
    if index == list.len() {
        list.push(doc);
    } else {
        list[index] = doc;
    }
    ctx.set_catalog(catalog_doc, "api").map_err(|e| rebase(e, index))?;
    let component = ctx.catalog().component(id).cloned().ok_or_else(|| not_found(id))?;
    if component.oci_tag != before.and_then(|b| b.oci_tag.clone()) {
        if let Some(tag) = &component.oci_tag {
            super::releases::check_default_tag(ctx, component.artifact.as_str(), tag)?;
        }
    }
    Ok(component)
}

/// Findings about `$.components[index]` become findings about the request body (`$`).
fn rebase(e: Error, index: usize) -> Error {
    let Error::InvalidCatalog(report) = e else { return e };
    let prefix = format!("$.components[{index}]");
    let errors: Vec<FieldError> = report
        .errors()
        .map(|d| FieldError {
            path: match d.path.strip_prefix(&prefix) {
                Some(rest) => format!("${rest}"),
                None => d.path.clone(),
            },
            message: format!("{} [{}]", d.message, d.rule),
        })
        .collect();
    let detail = match errors.first() {
        Some(first) if errors.len() == 1 => format!("{}: {}", first.path, first.message),
        _ => format!("the component breaks {} catalog rule(s)", errors.len()),
    };
    Error::Validation { detail, errors }
}

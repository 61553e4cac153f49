//! Example requests and answers for every operation, kept in `examples.json` and put into the
//! OpenAPI document, where Swagger UI shows them and the fuzzer starts from them.
//!
//! The examples are real exchanges with a service started from the example catalog
//! (`COMPONENTS.yaml`, `examples/clusters.yaml`, `examples/tags.yaml`), lists cut to a few items.
//! `examples.json` maps each operation id to its `request` (the body, when the operation takes
//! one) and its `responses` by status; a status may name the media type it is for
//! (`"200 application/yaml"`), else the example goes to every media type of that response whose
//! kind it fits (text for a string, JSON otherwise). The tests check that every operation has
//! them and that each validates against its own schema.

use serde_json::{Map, Value};
use utoipa::openapi::{path::Operation, Content, OpenApi, RefOr};

const EXAMPLES: &str = include_str!("examples.json");

/// Puts each operation's examples on its request body and its responses.
pub fn document(doc: &mut OpenApi) {
    let examples: Map<String, Value> = serde_json::from_str(EXAMPLES).unwrap_or_default();
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            if let Some(own) = op.operation_id.as_ref().and_then(|id| examples.get(id)) {
                add(op, own);
            }
        }
    }
}

fn add(op: &mut Operation, own: &Value) {
    if let (Some(request), Some(RefOr::T(body))) = (own.get("request"), op.request_body.as_mut()) {
        for content in body.content.values_mut() {
            set(content, request);
        }
    }
    let Some(responses) = own.get("responses").and_then(Value::as_object) else {
        return;
    };
    for (key, example) in responses {
        let (status, media_type) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else {
            continue;
        };
        for (name, content) in response.content.iter_mut() {
            let fits = if media_type.is_empty() {
                example.is_string() != name.contains("json")
            } else {
                name == media_type
            };
            if fits {
                set(content, example);
            }
        }
    }
}

fn set(content: &mut RefOr<Content>, example: &Value) {
    if let RefOr::T(content) = content {
        content.example = Some(example.clone());
    }
}

//! The JSON Schema (2020-12) for COMPONENTS.yaml, shipped in `catalog/schema/` for editors and
//! CI, and applied here for shape: types, required fields and unknown fields.

use serde_json::Value;

use crate::yaml::JsonPath;

/// The schema document, as shipped.
pub const COMPONENTS_SCHEMA: &str = include_str!("../schema/components.schema.json");

/// A shape problem: where, which rule, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub path: JsonPath,
    pub rule: String,
    pub message: String,
}

/// Checks `doc` against the shipped schema; every problem is returned, not just the first.
pub fn check(doc: &Value) -> Vec<ShapeError> {
    let schema: Value = match serde_json::from_str(COMPONENTS_SCHEMA) {
        Ok(schema) => schema,
        // The schema is compiled into the binary and covered by tests.
        Err(e) => unreachable!("the shipped schema is valid JSON: {e}"),
    };
    let validator = match jsonschema::draft202012::new(&schema) {
        Ok(v) => v,
        Err(e) => unreachable!("the shipped schema compiles: {e}"),
    };
    validator
        .iter_errors(doc)
        .map(|e| {
            let path = JsonPath::from_pointer(e.instance_path().as_str(), doc);
            let (rule, message) = match e.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => (
                    "unknown-field".to_owned(),
                    format!(
                        "unknown field{} {}",
                        if unexpected.len() > 1 { "s" } else { "" },
                        quoted(unexpected)
                    ),
                ),
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    ("required".to_owned(), format!("missing required field {property}"))
                }
                kind => (format!("schema-{}", kind.keyword()), e.to_string()),
            };
            // Unknown fields point at the field itself, so the line is the typo's line.
            let path = match e.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected }
                    if unexpected.len() == 1 =>
                {
                    path.key(&unexpected[0])
                }
                _ => path,
            };
            ShapeError { path, rule, message }
        })
        .collect()
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_at_their_own_path() {
        let doc = json!({"artifacts": [{"id": "p", "url": "oci://r/p", "oci_tag": "v1.0.0", "ocitag": "x"}],
                         "tiers": [{"name": "dev"}], "components": []});
        let errors = check(&doc);
        assert_eq!(
            errors,
            vec![ShapeError {
                path: JsonPath::root().key("artifacts").index(0).key("ocitag"),
                rule: "unknown-field".into(),
                message: "unknown field \"ocitag\"".into()
            }]
        );
    }

    #[test]
    fn missing_required_fields_and_wrong_types_are_all_reported() {
        let doc = json!({"artifacts": [], "tiers": [{"name": "dev", "policy": {"pin_digest": "yes"}}]});
        let rules: Vec<String> = check(&doc)
            .into_iter()
            .map(|e| format!("{} {}", e.path, e.rule))
            .collect();
        assert_eq!(
            rules,
            [
                "$ required",
                "$.artifacts schema-minItems",
                "$.tiers[0].policy.pin_digest schema-type"
            ]
        );
    }
}

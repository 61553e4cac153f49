//! COMPONENTS.yaml validation: every error, with file, line, path and rule.

use catalog::schema::COMPONENTS_SCHEMA;
use catalog::validate::load;
use catalog::Report;
use serde_json::Value;

use crate::{example, repo_root};

fn report_of(text: &str) -> Report {
    match load("c.yaml", text) {
        Ok(_) => panic!("expected the catalog to be refused"),
        Err(report) => report,
    }
}

/// `line path [rule]` for each finding: what a user needs to find and fix each problem.
fn findings(report: &Report) -> Vec<String> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {} [{}]",
                d.line.map(|l| l.to_string()).unwrap_or("-".into()),
                d.path,
                d.rule
            )
        })
        .collect()
}

#[test]
fn the_example_catalog_is_valid() {
    let loaded = example();
    assert!(loaded.warnings.diagnostics.is_empty(), "{}", loaded.warnings);
    assert_eq!(loaded.catalog.components().len(), 5);
}

#[test]
fn a_broken_catalog_reports_every_error_with_its_line_path_and_rule() {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/broken-components.yaml")).unwrap();
    let report = match load("broken-components.yaml", &text) {
        Ok(_) => panic!("the broken fixture must be refused"),
        Err(report) => report,
    };
    assert_eq!(
        findings(&report),
        [
            "7 $.artifacts[1].url [oci-url]",
            "8 $.artifacts[1].oci_tag [pattern]",
            "14 $.tiers[2].policy.pattern [regex]",
            "20 $.components[0].oci_tag [allow_mutable]",
            "20 $.components[0].oci_tag [allow_mutable]",
            "21 $.components[0].depends_on [no-dependency-cycle]",
            "25 $.components[1].component_path [safe-relative-path]",
            "26 $.components[1].depends_on[1] [known-dependency]",
            "27 $.components[2].id [dns-1123-label]",
            "29 $.components[2].artifact [known-artifact]",
            "31 $.components[2].intervall [unknown-field]",
            "32 $.components[3] [artifact-required]",
            "34 $.components[3].component_path [safe-relative-path]",
            "35 $.components[3].oci_tag [allow_prerelease]",
            "36 $.components[3].timeout [duration]",
            "37 $.components[4].id [unique-id]",
            "41 $.components[4].oci_tag [one-tag-form]",
            "41 $.components[4].oci_tag [pattern]",
            "42 $.components[4].enabled [schema-type]",
        ]
    );
    insta::assert_snapshot!("broken_report", report.to_string());
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    let report = report_of("artifacts:\n  - id: x\n    url: [oops\ntiers: []\n");
    assert_eq!(report.diagnostics.len(), 1);
    assert_eq!(report.diagnostics[0].rule, "yaml-syntax");
    assert_eq!(report.diagnostics[0].line, Some(4));
}

#[test]
fn a_duplicate_key_is_an_error_even_though_yaml_parsers_keep_one() {
    let text = "artifacts:\n  - {id: p, url: 'oci://r.example.com/p', oci_tag: v1.0.0}\ntiers: [{name: dev}]\n\
                components: []\ntiers: [{name: prod}]\n";
    assert_eq!(findings(&report_of(text)), ["5 $.tiers [duplicate-key]"]);
}

#[test]
fn missing_sections_are_required_fields() {
    assert_eq!(
        findings(&report_of("artifacts: []\n")),
        ["1 $ [required]", "1 $ [required]", "1 $.artifacts [schema-minItems]"]
    );
}

#[test]
fn a_disabled_dependency_of_an_enabled_component_is_an_error() {
    let text = "artifacts: [{id: p, url: 'oci://r.example.com/p', oci_tag: v1.0.0}]\ntiers: [{name: dev}]\n\
                components:\n  - {id: a, category: c, component_path: a, depends_on: [b]}\n\
                \x20 - {id: b, category: c, component_path: b, enabled: false}\n";
    let report = report_of(text);
    assert_eq!(
        findings(&report),
        ["4 $.components[0].depends_on[0] [enabled-dependency]"]
    );
    assert_eq!(
        report.diagnostics[0].message,
        "a depends on b, which is disabled (enabled: false)"
    );
}

#[test]
fn the_shipped_schema_is_draft_2020_12_and_accepts_the_example() {
    let schema: Value = serde_json::from_str(COMPONENTS_SCHEMA).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let on_disk = std::fs::read_to_string(repo_root().join("catalog/schema/components.schema.json")).unwrap();
    assert_eq!(on_disk, COMPONENTS_SCHEMA);
    let example = catalog::yaml::parse(&std::fs::read_to_string(repo_root().join("COMPONENTS.yaml")).unwrap()).unwrap();
    assert!(catalog::schema::check(&example.value).is_empty());
}

#[test]
fn the_schema_and_the_parsers_refuse_the_same_malformed_values() {
    let cases = [
        ("id", "Cert_Manager"),
        ("component_path", "../up"),
        ("component_path", "a//b"),
        ("oci_tag", "-v1"),
        ("interval", "10 minutes"),
        ("target_namespace", "Monitoring"),
    ];
    for (field, value) in cases {
        let mut component = serde_json::json!({"id": "a", "category": "c", "component_path": "a"});
        component[field] = Value::String(value.into());
        let doc = serde_json::json!({
            "artifacts": [{"id": "p", "url": "oci://r.example.com/p", "oci_tag": "v1.0.0"}],
            "tiers": [{"name": "dev"}],
            "components": [component],
        });
        assert!(
            !catalog::schema::check(&doc).is_empty(),
            "the schema accepts {field}: {value:?}"
        );
        let text = serde_json::to_string(&doc).unwrap();
        let report = report_of(&text);
        let path = format!("$.components[0].{field}");
        assert_eq!(
            report.diagnostics.iter().filter(|d| d.path == path).count(),
            1,
            "{field}: {value:?}\n{report}"
        );
    }
}

#[test]
fn a_catalog_written_back_to_a_document_loads_as_the_same_catalog() {
    let loaded = example();
    let document = loaded.catalog.to_document();
    let again = catalog::validate::load_value("export", document.clone()).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(again.catalog, loaded.catalog);
    assert_eq!(again.catalog.to_document(), document);
    let yaml = catalog::yaml::to_yaml(&document);
    assert_eq!(load("export.yaml", &yaml).unwrap().catalog, loaded.catalog);
}

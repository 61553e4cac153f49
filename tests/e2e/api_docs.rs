//! The OpenAPI document, the docs page and the metrics.

use crate::both;
use crate::support::app::{Backend, TestApp};
use crate::support::repo_root;
use serde_json::Value;

/// `openapi/openapi.json` is generated from the code: regenerate it with
/// `cargo run -q -- openapi > openapi/openapi.json` when this fails.
#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = platform_catalog::http::openapi()
        .to_pretty_json()
        .expect("the document serializes")
        + "\n";
    let committed = std::fs::read_to_string(repo_root().join("openapi/openapi.json")).expect("openapi/openapi.json");
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`\n{}",
        first_difference(&committed, &generated)
    );
}

/// The document as a snapshot beside the committed file: a change to any operation, schema or
/// example shows as a diff to review (`cargo insta review`) before the file is regenerated.
#[test]
fn the_openapi_document_matches_its_reviewed_snapshot() {
    let generated = platform_catalog::http::openapi()
        .to_pretty_json()
        .expect("the document serializes");
    insta::assert_snapshot!("openapi", generated);
}

/// Where two texts first differ, with a few lines around it from each side.
fn first_difference(committed: &str, generated: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), generated.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let around = |lines: &[&str], sign: char| {
        lines
            .iter()
            .enumerate()
            .skip(at.saturating_sub(3))
            .take(8)
            .map(|(i, l)| format!("{sign}{:>6} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}:\n--- committed\n{}\n+++ generated\n{}",
        at + 1,
        around(&a, '-'),
        around(&b, '+')
    )
}

#[test]
fn every_operation_documents_its_errors_as_problem_json() {
    let doc: serde_json::Value =
        serde_json::from_str(&platform_catalog::http::openapi().to_pretty_json().unwrap()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"].get("application/problem+json").is_some(),
                        "{method} {path} {status} is not problem+json"
                    );
                }
            }
        }
    }
}

both!(
    the_service_serves_its_openapi_document_and_an_offline_docs_page,
    |b: Backend| {
        let app = TestApp::empty(b);
        let served = app.get("/api-docs/openapi.json");
        assert_eq!(served.status, 200);
        assert_eq!(served.json()["info"]["title"], "Platform Catalog");
        let page = app.get("/docs/");
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("swagger-ui"),
            "{}",
            &page.body[..page.body.len().min(300)]
        );
        assert!(
            !page.body.contains("https://"),
            "the docs page must not load anything from the internet"
        );
        let config = app.get("/docs/swagger-initializer.js");
        assert_eq!(config.status, 200);
        assert!(config.body.contains("\"validatorUrl\": \"none\""), "{}", config.body);
    }
);

both!(
    the_guide_to_the_common_jobs_is_served_and_linked_from_the_reference,
    |b: Backend| {
        let app = TestApp::empty(b);
        let doc = app.get("/api-docs/openapi.json").json();
        let description = doc["info"]["description"].as_str().expect("a description");
        assert!(description.contains("[the guide](/docs/guide)"), "{description}");
        let guide = app.get("/docs/guide");
        assert_eq!(guide.status, 200, "{}", guide.body);
        assert_eq!(guide.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(guide.header("content-security-policy").is_some());
        assert!(guide.body.contains("<a href=\"/docs/\">API reference</a>"));
        let source = std::fs::read_to_string(repo_root().join("docs/guide.md")).expect("docs/guide.md");
        for job in [
            "## Pin",
            "## Unpin",
            "## Roll out",
            "## Hotfix",
            "## Roll a cluster back",
            "## Read drift",
        ] {
            assert!(source.contains(job), "the guide has no section {job:?}");
            assert!(guide.body.contains(job), "the page does not show {job:?}");
        }
        assert!(
            guide.body.contains("-d '{\"oci_tag\": \"v1.1.0-1\""),
            "the curl calls are shown as written"
        );
        let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
        assert!(readme.contains("(docs/guide.md)"), "the README links the guide");
    }
);

both!(metrics_count_requests_by_route_and_renders_served, |b: Backend| {
    let app = TestApp::with_fleet(b);
    app.get("/api/v1/clusters/dev-eu-1/render");
    app.get("/api/v1/clusters/qa-eu-1/render");
    app.get("/api/v1/clusters/nope/render");
    let metrics = app.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains(
        "platform_catalog_http_requests_total{method=\"GET\",route=\"/api/v1/clusters/{name}/render\",status=\"200\"} 2\n"
    ), "{}", metrics.body);
    assert!(metrics.body.contains(
        "platform_catalog_http_requests_total{method=\"GET\",route=\"/api/v1/clusters/{name}/render\",status=\"404\"} 1\n"
    ), "{}", metrics.body);
    assert!(
        metrics.body.contains("platform_catalog_renders_served_total 3\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("platform_catalog_db_pool_connections{state=\"max\"} 4\n"),
        "{}",
        metrics.body
    );
});

both!(the_api_shows_which_catalog_revision_is_loaded, |b: Backend| {
    let app = TestApp::empty(b);
    let none = app.get("/api/v1/catalog");
    assert_eq!(none.status, 409, "{}", none.body);
    let app = TestApp::with_catalog(b);
    let catalog = app.get("/api/v1/catalog").json();
    assert_eq!(catalog["revision"], 1);
    assert_eq!(catalog["tiers"], serde_json::json!(["dev", "qa", "prod"]));
    assert_eq!(catalog["components"], 5);
    app.patch("/api/v1/components/grafana", &serde_json::json!({"interval": "15m"}));
    assert_eq!(app.get("/api/v1/catalog").json()["revision"], 2);
});

/// Each documented operation, with its `{…}` segments filled in.
fn documented_operations() -> Vec<(String, String)> {
    let doc: Value =
        serde_json::from_str(&platform_catalog::http::openapi().to_json().expect("the document")).expect("JSON");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete: Vec<String> = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "x".to_owned()
                } else {
                    s.to_owned()
                }
            })
            .collect();
        for method in item.as_object().expect("a path item").keys() {
            ops.push((method.to_uppercase(), concrete.join("/")));
        }
    }
    ops
}

both!(
    every_documented_operation_is_routed_and_every_other_method_is_405_with_allow,
    |b: Backend| {
        let app = TestApp::empty(b);
        let ops = documented_operations();
        assert_eq!(ops.len(), 68);
        for (method, path) in &ops {
            let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then_some("{}");
            let r = app.request(method, path, body, &[]);
            let unrouted = r.status == 405
                || (r.status == 404
                    && r.body.contains("urn:platform-catalog:problem:not-found")
                    && r.body.contains("route"));
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed: {} {}",
                r.status, r.body
            );
        }
        for (method, path, allow) in [
            ("PUT", "/api/v1/clusters", "GET, POST"),
            ("TRACE", "/api/v1/clusters/dev-eu-1", "DELETE, GET, PATCH, PUT"),
            ("POST", "/api/v1/audit", "GET"),
        ] {
            let r = app.request(method, path, None, &[]);
            assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert_eq!(r.json()["type"], "urn:platform-catalog:problem:method-not-allowed");
        }
        let nowhere = app.get("/api/v1/nowhere");
        assert_eq!(nowhere.status, 404);
        assert_eq!(nowhere.json()["type"], "urn:platform-catalog:problem:not-found");
    }
);

both!(
    an_unknown_query_parameter_is_a_400_naming_it_and_the_documented_ones,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let r = app.get("/api/v1/clusters?tierr=prod");
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            r.json()["detail"],
            "unknown query parameter \"tierr\": GET /api/v1/clusters takes only tier, label, component, limit, cursor"
        );
        let r = app.request("DELETE", "/api/v1/clusters/qa-eu-1?forse=true", None, &[]);
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(app.get("/api/v1/clusters/qa-eu-1").status, 200, "nothing was deleted");
        let r = app.get("/healthz?probe=1");
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            r.json()["detail"],
            "unknown query parameter \"probe\": GET /healthz takes no query parameters"
        );
        assert_eq!(app.get("/api/v1/clusters?tier=prod&limit=1").status, 200);
    }
);

#[test]
fn every_response_of_every_operation_has_a_description() {
    let doc: Value =
        serde_json::from_str(&platform_catalog::http::openapi().to_json().expect("the document")).expect("JSON");
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                if response["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "responses without a description: {missing:?}");
}

/// The generated document as JSON.
fn document() -> Value {
    serde_json::from_str(&platform_catalog::http::openapi().to_json().expect("the document")).expect("JSON")
}

/// Every operation of the document: its method, path and operation object.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops
}

#[test]
fn every_operation_shows_an_example_request_body_and_an_example_answer() {
    let doc = document();
    let mut missing = Vec::new();
    for (method, path, op) in operations(&doc) {
        for (media_type, content) in op["requestBody"]["content"].as_object().into_iter().flatten() {
            if content.get("example").is_none() {
                missing.push(format!("{method} {path}: request {media_type}"));
            }
        }
        let mut answers = 0;
        for (status, response) in op["responses"].as_object().expect("responses") {
            if !status.starts_with('2') {
                continue;
            }
            for (media_type, content) in response["content"].as_object().into_iter().flatten() {
                answers += 1;
                if content.get("example").is_none() {
                    missing.push(format!("{method} {path}: {status} {media_type}"));
                }
            }
        }
        if answers == 0 && !op["responses"].as_object().expect("responses").contains_key("204") {
            missing.push(format!("{method} {path}: no success answer with a body"));
        }
    }
    assert!(missing.is_empty(), "examples missing: {missing:#?}");
}

#[test]
fn every_example_is_valid_against_its_own_schema() {
    let doc = document();
    let mut checked = 0;
    let mut invalid = Vec::new();
    for (method, path, op) in operations(&doc) {
        let requests = op["requestBody"]["content"].as_object().into_iter().flatten();
        let answers = op["responses"]
            .as_object()
            .expect("responses")
            .iter()
            .flat_map(|(status, r)| {
                r["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(m, c)| (format!("{status} {m}"), c))
            });
        let all = requests.map(|(m, c)| (format!("request {m}"), c)).chain(answers);
        for (what, content) in all {
            let Some(example) = content.get("example") else {
                continue;
            };
            // `$ref`s point into the document's components: give the schema those as its own.
            let mut schema = content["schema"].clone();
            schema
                .as_object_mut()
                .expect("a schema object")
                .insert("components".to_owned(), doc["components"].clone());
            let validator = jsonschema::draft202012::new(&schema).expect("the schema compiles");
            checked += 1;
            for error in validator.iter_errors(example) {
                invalid.push(format!(
                    "{method} {path} {what}: {} at {}",
                    error,
                    error.instance_path()
                ));
            }
        }
    }
    assert!(checked >= 62, "only {checked} examples checked");
    assert!(invalid.is_empty(), "examples that break their schema: {invalid:#?}");
}

/// Every text of the document, with where it is.
fn descriptions(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                match (key.as_str(), v) {
                    ("description", Value::String(text)) => out.push((at.to_owned(), text.clone())),
                    _ => descriptions(v, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| descriptions(v, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn the_documents_the_descriptions_cite_are_in_the_repository() {
    let mut texts = Vec::new();
    descriptions(&document(), "", &mut texts);
    let files = regex::Regex::new(r"\b[\w./-]+\.(?:md|yaml|json)\b").expect("a regex");
    let sections = regex::Regex::new(r#"README's "([^"]+)""#).expect("a regex");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let mut outside = Vec::new();
    for (at, text) in &texts {
        for file in files.find_iter(text) {
            if !repo_root().join(file.as_str()).is_file() {
                outside.push(format!("{at}: {}", file.as_str()));
            }
        }
        for section in sections.captures_iter(text) {
            if !readme
                .lines()
                .any(|l| l.starts_with('#') && l.trim_start_matches('#').trim() == &section[1])
            {
                outside.push(format!("{at}: README section {:?}", &section[1]));
            }
        }
        if text.contains("DESIGN") {
            outside.push(format!("{at}: a design document"));
        }
    }
    assert!(texts.len() > 100, "only {} descriptions found", texts.len());
    assert!(
        outside.is_empty(),
        "descriptions cite what the repository does not hold: {outside:#?}"
    );
}

//! A catalog stream: one YAML file holding the catalog document and, beside it, the documents
//! `export` writes for what the service stores besides the catalog (`tags:`, `clusters:`,
//! `holds:`). Each side document is told apart by its one top-level key; the catalog is the
//! document that is none of them. A plain COMPONENTS.yaml is a stream of one.

use serde_json::Value;

use crate::yaml::{self, YamlDoc, YamlError};

/// The top-level keys of the side documents, in the order `export` writes them.
pub const SIDE_KINDS: [&str; 3] = ["tags", "clusters", "holds"];

/// A stream split into its documents.
#[derive(Debug, Default)]
pub struct Stream {
    pub catalog: Option<YamlDoc>,
    /// `(kind, document)` for each side document, in stream order.
    pub sides: Vec<(&'static str, YamlDoc)>,
}

impl Stream {
    /// The side document of `kind`, if the stream has one.
    pub fn side(&self, kind: &str) -> Option<&YamlDoc> {
        self.sides.iter().find(|(k, _)| *k == kind).map(|(_, d)| d)
    }
}

/// The side kind of a document: a mapping whose only key is one of [`SIDE_KINDS`].
fn side_kind(value: &Value) -> Option<&'static str> {
    let map = value.as_object()?;
    let (key, _) = map.iter().next()?;
    (map.len() == 1)
        .then(|| SIDE_KINDS.iter().copied().find(|k| k == key))
        .flatten()
}

/// Splits a stream; two catalogs, or two side documents of one kind, are an error at the
/// second one's line.
pub fn split(text: &str) -> Result<Stream, YamlError> {
    let mut stream = Stream::default();
    for doc in yaml::parse_stream(text)? {
        let line = doc.line(&yaml::JsonPath::root()).unwrap_or(1);
        let twice = |what: &str| YamlError {
            line,
            column: 1,
            message: format!("a second {what} document in one stream; a stream holds at most one of each"),
        };
        match side_kind(&doc.value) {
            Some(kind) if stream.side(kind).is_some() => return Err(twice(&format!("`{kind}:`"))),
            Some(kind) => stream.sides.push((kind, doc)),
            None if stream.catalog.is_some() => return Err(twice("catalog")),
            None => stream.catalog = Some(doc),
        }
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_splits_into_its_catalog_and_side_documents_by_their_key() {
        let s = split("---\ncomponents: []\n---\ntags: []\n---\nclusters: []\n").unwrap();
        assert_eq!(s.catalog.map(|d| d.value), Some(serde_json::json!({"components": []})));
        assert_eq!(
            s.sides.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["tags", "clusters"]
        );
    }

    #[test]
    fn two_catalogs_in_one_stream_are_refused_at_the_second() {
        let err = split("components: []\n---\nartifacts: []\n").unwrap_err();
        assert_eq!(err.line, 3);
    }
}

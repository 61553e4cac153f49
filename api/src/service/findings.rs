//! Catalog validation findings as refusals naming the fields of the command that caused them.

use catalog::yaml::{is_simple_key, PathSeg};
use catalog::Diagnostic;

use crate::error::Field;

/// A place in a document as a field: `components[2].oci_tag`.
pub fn field_of(steps: &[PathSeg]) -> Field {
    steps.iter().fold(Field::whole(), |field, step| match step {
        PathSeg::Index(i) => field.index(*i),
        PathSeg::Key(k) if is_simple_key(k) => field.named(k.clone()),
        PathSeg::Key(k) => field.key(k),
    })
}

/// The steps after `prefix` of where `d` is, when it is inside `prefix`.
pub fn inside(d: &Diagnostic, prefix: &[PathSeg]) -> Option<Vec<PathSeg>> {
    d.location().segments().strip_prefix(prefix).map(<[PathSeg]>::to_vec)
}

/// Where `d` is in the catalog document, as a field.
pub fn catalog_field(d: &Diagnostic) -> Field {
    field_of(d.location().segments())
}

/// A finding as a refusal shows it: the message and the rule.
pub fn message(d: &Diagnostic) -> String {
    format!("{} [{}]", d.message, d.rule)
}

/// `[key, index]`: the steps to an entry of a list in a document.
pub fn entry(list: &str, index: usize) -> [PathSeg; 2] {
    [PathSeg::Key(list.to_owned()), PathSeg::Index(index)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::yaml::JsonPath;

    #[test]
    fn a_document_path_becomes_the_field_it_names() {
        let path = JsonPath::root().key("components").index(2).key("labels").key("a/b");
        assert_eq!(field_of(path.segments()).to_string(), "components[2].labels[\"a/b\"]");
        assert!(field_of(&[]).is_whole());
    }
}

//! The rendered diff a dry run shows: for each component whose Flux objects would change, the
//! lines that go and come, with a line of context.

use std::collections::{BTreeSet, HashMap};

use catalog::ids::{ArtifactId, Digest};
use catalog::render::{render, DigestMode, RenderOptions};
use catalog::resolve::EffectiveConfig;
use catalog::OciTag;

use crate::error::Error;
use crate::store::effective::EffectiveRecord;

pub type Digests = HashMap<(ArtifactId, OciTag), Digest>;

/// Each component's render on its own, without the revision annotation (which always changes).
fn per_component(record: Option<&EffectiveRecord>, digests: &Digests) -> Result<HashMap<String, String>, Error> {
    let Some(record) = record else {
        return Ok(HashMap::new());
    };
    let config = EffectiveConfig::try_from(record)?;
    let opts = RenderOptions {
        revision: None,
        digests,
        mode: DigestMode::TagWhenUnknown,
    };
    let mut out = HashMap::new();
    for c in &config.components {
        let single = EffectiveConfig {
            components: vec![c.clone()],
            notes: Vec::new(),
            ..config.clone()
        };
        let yaml = render(&single, &opts).map_err(Error::Catalog)?.to_yaml();
        out.insert(c.id.to_string(), yaml);
    }
    Ok(out)
}

/// The diff between two revisions' renders, component by component.
pub fn rendered_diff(
    before: Option<&EffectiveRecord>,
    after: &EffectiveRecord,
    digests: &Digests,
) -> Result<String, Error> {
    let (old, new) = (per_component(before, digests)?, per_component(Some(after), digests)?);
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = String::new();
    for id in ids {
        let (a, b) = (
            old.get(id).map(String::as_str).unwrap_or(""),
            new.get(id).map(String::as_str).unwrap_or(""),
        );
        if a == b {
            continue;
        }
        out.push_str(&format!("--- {id}\n+++ {id}\n"));
        out.push_str(&line_diff(a, b));
    }
    Ok(out)
}

/// Changed lines marked `-`/`+`, each run preceded by one unchanged line for context.
fn line_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Longest common subsequence table, filled from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    let mut context: Option<&str> = None;
    let emit = |out: &mut String, mark: char, line: &str, context: &mut Option<&str>| {
        if let Some(c) = context.take() {
            out.push_str(&format!(" {c}\n"));
        }
        out.push(mark);
        out.push_str(line);
        out.push('\n');
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            context = Some(a[i]);
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            emit(&mut out, '+', b[j], &mut context);
            j += 1;
        } else {
            emit(&mut out, '-', a[i], &mut context);
            i += 1;
        }
    }
    out
}

/// The rendered diff of a cluster from revision `from` to revision `to`.
pub fn between_revisions(state: &super::AppState, cluster: &str, from: i64, to: i64) -> Result<String, Error> {
    let (a, b) = (
        super::history::revision(state, cluster, from)?,
        super::history::revision(state, cluster, to)?,
    );
    let digests = super::render::digest_map(&mut *state.conn()?)?;
    rendered_diff(Some(&a.revision.record), &b.revision.record, &digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_lines_come_with_one_line_of_context() {
        let a = "kind: OCIRepository\nspec:\n  ref:\n    tag: v1.1.0\n";
        let b = "kind: OCIRepository\nspec:\n  ref:\n    tag: v1.0.0-1\n";
        assert_eq!(line_diff(a, b), "   ref:\n-    tag: v1.1.0\n+    tag: v1.0.0-1\n");
        assert_eq!(line_diff("", "x\n"), "+x\n");
        assert_eq!(line_diff("same\n", "same\n"), "");
    }
}

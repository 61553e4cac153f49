//! The tag order is a total order: property tests over generated tags.

use std::cmp::Ordering;

use catalog::tag::{sort_tags, OciTag, OrderedTag};
use proptest::prelude::*;

/// Version tags of every kind, from a small space so that equal versions and shared bases are
/// common: releases, hotfixes (`-1`, `-2.1`), pre-releases (`-rc1`, `-beta.2`), with or without `v`.
fn version_tag() -> impl Strategy<Value = String> {
    let core = (0u64..3, 0u64..3, 0u64..3);
    let pre = prop_oneof![
        Just(String::new()),
        prop::collection::vec(0u64..12, 1..3)
            .prop_map(|n| format!("-{}", n.iter().map(u64::to_string).collect::<Vec<_>>().join("."))),
        (
            prop::sample::select(vec!["rc", "beta", "alpha", "rc.", "pre.x"]),
            0u64..4
        )
            .prop_map(|(p, n)| format!("-{p}{n}")),
    ];
    (any::<bool>(), core, pre).prop_map(|(v, (a, b, c), pre)| format!("{}{a}.{b}.{c}{pre}", if v { "v" } else { "" }))
}

fn ordered(raw: &str) -> OrderedTag {
    OrderedTag::try_from(OciTag::parse(raw).expect("generated tags are valid")).expect("generated tags are orderable")
}

proptest! {
    #[test]
    fn the_order_is_antisymmetric_and_equal_only_for_the_same_tag(a in version_tag(), b in version_tag()) {
        let (x, y) = (ordered(&a), ordered(&b));
        prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
        prop_assert_eq!(x.cmp(&y) == Ordering::Equal, a == b);
    }

    #[test]
    fn the_order_is_transitive(a in version_tag(), b in version_tag(), c in version_tag()) {
        let mut v = [ordered(&a), ordered(&b), ordered(&c)];
        v.sort();
        prop_assert!(v[0] <= v[1] && v[1] <= v[2] && v[0] <= v[2]);
        for x in &v { for y in &v { for z in &v {
            if x <= y && y <= z { prop_assert!(x <= z, "{} <= {} <= {} but not {} <= {}", x, y, z, x, z); }
        }}}
    }

    #[test]
    fn sorting_is_idempotent_and_independent_of_input_order(tags in prop::collection::vec(version_tag(), 0..40)) {
        let once: Vec<String> = sort_tags(tags.iter().map(String::as_str), None).sorted.iter().map(ToString::to_string).collect();
        let twice: Vec<String> = sort_tags(once.iter().map(String::as_str), None).sorted.iter().map(ToString::to_string).collect();
        prop_assert_eq!(&once, &twice);
        let reversed: Vec<String> = sort_tags(tags.iter().rev().map(String::as_str), None).sorted.iter().map(ToString::to_string).collect();
        prop_assert_eq!(&once, &reversed);
        prop_assert_eq!(once.len(), tags.len());
    }

    #[test]
    fn the_compact_sort_key_never_contradicts_the_order(a in version_tag(), b in version_tag(), big in 0u64..u64::MAX) {
        let (x, y) = (ordered(&a), ordered(&b));
        let (kx, ky) = (x.version().sort_key(), y.version().sort_key());
        if kx != ky {
            prop_assert_eq!(kx.cmp(&ky), x.cmp(&y));
        }
        // Parts too wide for the key saturate rather than wrap.
        let (p, q) = (ordered(&format!("v{big}.0.0")), ordered(&format!("v{}.1.0", big / 2)));
        if p.version().sort_key() != q.version().sort_key() {
            prop_assert_eq!(p.version().sort_key().cmp(&q.version().sort_key()), p.cmp(&q));
        }
    }

    #[test]
    fn a_hotfix_sorts_after_its_release_and_before_the_next_patch(a in 0u64..50, b in 0u64..50, c in 0u64..50, n in 0u64..1000) {
        let release = ordered(&format!("v{a}.{b}.{c}"));
        let hotfix = ordered(&format!("v{a}.{b}.{c}-{n}"));
        let next = ordered(&format!("v{a}.{b}.{}", c + 1));
        prop_assert!(release < hotfix && hotfix < next);
    }

    #[test]
    fn a_prerelease_sorts_before_its_release_and_after_the_previous_hotfixes(a in 0u64..50, b in 0u64..50, c in 1u64..50, n in 0u64..1000) {
        let rc = ordered(&format!("v{a}.{b}.{c}-rc{n}"));
        let release = ordered(&format!("v{a}.{b}.{c}"));
        let previous_hotfix = ordered(&format!("v{a}.{b}.{}-{n}", c - 1));
        prop_assert!(previous_hotfix < rc && rc < release);
    }
}

#[test]
fn the_design_examples_hold() {
    let sorted = sort_tags(
        [
            "v1.1.0",
            "v1.0.0-2",
            "v1.1.0-rc1",
            "v1.0.0",
            "v1.0.0-1",
            "v1.0.1",
            "v1.0.0-10",
            "v1.1.0-beta",
            "v1.1.0-1",
        ],
        None,
    );
    let got = sorted.sorted;
    assert_eq!(
        got,
        [
            "v1.0.0",
            "v1.0.0-1",
            "v1.0.0-2",
            "v1.0.0-10",
            "v1.0.1",
            "v1.1.0-beta",
            "v1.1.0-rc1",
            "v1.1.0",
            "v1.1.0-1"
        ]
    );
}

#[test]
fn moving_and_invalid_tags_are_rejected_by_name_and_never_sorted() {
    let out = sort_tags(["v1.0.0", "latest", "v1.0.0+meta", "main"], None);
    let got = &out.sorted;
    assert_eq!(*got, ["v1.0.0"]);
    let rejected: Vec<String> = out.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        rejected,
        [
            "tag \"latest\" is not orderable: it is not a version (v?MAJOR.MINOR.PATCH[-PRE]); moving tags never sort",
            "invalid tag \"v1.0.0+meta\": OCI tags cannot hold '+' (semver build metadata); use '-N' for a hotfix build, e.g. v1.0.0-1",
            "tag \"main\" is not orderable: it is not a version (v?MAJOR.MINOR.PATCH[-PRE]); moving tags never sort",
        ]
    );
}

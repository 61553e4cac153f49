//! `platform-catalog tags sort`.

use crate::support::run;

#[test]
fn tags_sort_prints_hotfixes_after_their_release_and_prereleases_before() {
    let out = run(
        &[
            "tags",
            "sort",
            "v1.1.0",
            "v1.0.0-2",
            "v1.1.0-rc1",
            "v1.0.0",
            "v1.0.0-1",
            "v1.0.0-10",
        ],
        None,
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(
        out.stdout,
        "v1.0.0\nv1.0.0-1\nv1.0.0-2\nv1.0.0-10\nv1.1.0-rc1\nv1.1.0\n"
    );
}

#[test]
fn tags_sort_reads_standard_input_when_given_no_tags() {
    let out = run(&["tags", "sort", "--reverse"], Some("v1.0.1\n\n  v1.0.0-1 \nv1.0.0\n"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "v1.0.1\nv1.0.0-1\nv1.0.0\n");
}

#[test]
fn tags_sort_exits_1_naming_an_unorderable_tag() {
    let out = run(&["tags", "sort", "v1.0.0", "latest"], None);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "error: tag \"latest\" is not orderable: it is not a version (v?MAJOR.MINOR.PATCH[-PRE]); moving tags never sort\n"
    );
}

#[test]
fn tags_sort_refuses_build_metadata_with_the_oci_rule() {
    let out = run(&["tags", "sort", "v1.0.0+1"], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("OCI tags cannot hold '+'"), "{}", out.stderr);
}

#[test]
fn tags_sort_skip_invalid_drops_bad_tags_with_a_warning() {
    let out = run(&["tags", "sort", "--skip-invalid", "v2.0.0", "main", "v1.0.0"], None);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "v1.0.0\nv2.0.0\n");
    assert_eq!(
        out.stderr,
        "warning: skipped: tag \"main\" is not orderable: it is not a version (v?MAJOR.MINOR.PATCH[-PRE]); moving tags never sort\n"
    );
}

#[test]
fn tags_sort_pattern_orders_prefixed_tags_and_leaves_out_the_rest() {
    let pattern = r"^production-(?P<version>v[0-9]+\.[0-9]+\.[0-9]+)-[a-f0-9]+-(?P<ts>[0-9]+)$";
    let input = "production-v1.2.3-a1b2c3d-1738861000\nstaging-v9.0.0-aaaaaaa-1\nproduction-v1.2.3-b1b2c3d-999\n\
                 production-v1.10.0-c1b2c3d-1\n";
    let out = run(&["tags", "sort", "--pattern", pattern], Some(input));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "production-v1.2.3-b1b2c3d-999\nproduction-v1.2.3-a1b2c3d-1738861000\nproduction-v1.10.0-c1b2c3d-1\n"
    );
    assert_eq!(out.stderr, "note: 1 tag(s) did not match --pattern and were left out\n");
}

#[test]
fn tags_sort_refuses_a_pattern_without_named_groups_as_a_usage_error() {
    let out = run(&["tags", "sort", "--pattern", "^v.*$", "v1.0.0"], None);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("needs a named group (?P<version>…)"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_explains_the_order_and_the_exit_codes() {
    let out = run(&["tags", "sort", "--help"], None);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("v1.0.0 < v1.0.0-1 < v1.0.0-2 < v1.0.1"),
        "{}",
        out.stdout
    );
    let out = run(&["--help"], None);
    assert!(
        out.stdout
            .contains("Exit codes:\n  0  success\n  1  invalid input or refused by a rule"),
        "{}",
        out.stdout
    );
}

//! `platform-catalog validate`: every problem in a COMPONENTS.yaml and its platform repo tree.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use catalog::prune::Decision;
use catalog::tree::{check_tree, Tree};
use catalog::validate::{load, Loaded};
use catalog::yaml::JsonPath;
use catalog::{Report, Severity};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::prune::DEFAULT_KEEP;
use super::{default_catalog, read_file};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The catalog file.
    #[arg(default_value_os_t = default_catalog())]
    file: PathBuf,

    /// The platform repo checkout: each component_path must exist there with an overlay
    /// directory per tier holding a kustomization.yaml.
    #[arg(long, value_name = "DIR")]
    tree: Option<PathBuf>,

    /// Also build every overlay with `kubectl kustomize` (or `kustomize build`). Needs --tree.
    #[arg(long, requires = "tree")]
    build: bool,

    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

pub fn run(args: ValidateArgs) -> Result<ExitCode, Error> {
    let text = read_file(&args.file)?;
    let name = args.file.display().to_string();
    if let Some(dir) = &args.tree {
        if !dir.is_dir() {
            return Err(Error::Usage(format!("--tree {}: not a directory", dir.display())));
        }
    }
    let (report, summary) = match load(&name, &text) {
        Err(report) => (report, None),
        Ok(loaded) => {
            let mut report = loaded.warnings.clone();
            let c = &loaded.catalog;
            let mut summary = vec![format!(
                "{}, {}, {}",
                count(c.components().len(), "component"),
                count(c.artifacts().len(), "artifact"),
                count(c.tiers().len(), "tier")
            )];
            if let Some(dir) = &args.tree {
                summary.push(check_dir(&loaded, dir, args.build, &mut report));
            }
            (report, Some(summary))
        }
    };
    print(&report, summary.as_deref(), args.output);
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn print(report: &Report, summary: Option<&[String]>, output: Output) {
    let errors = report.errors().count();
    let warnings = report.of(Severity::Warning).count();
    match output {
        Output::Json => {
            let doc = json!({
                "file": report.file,
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": report.diagnostics,
            });
            crate::sayln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Output::Text => {
            for d in &report.diagnostics {
                crate::sayln!("{d}");
            }
            if errors == 0 {
                crate::sayln!("{}: valid ({})", report.file, summary.unwrap_or_default().join("; "));
            } else {
                crate::sayln!("{}: {errors} error(s), {warnings} warning(s)", report.file);
            }
        }
    }
}

/// A platform repo checkout on disk.
struct DirTree<'a>(&'a Path);

impl Tree for DirTree<'_> {
    fn is_dir(&self, path: &str) -> bool {
        self.0.join(path).is_dir()
    }
    fn is_file(&self, path: &str) -> bool {
        self.0.join(path).is_file()
    }
}

/// Adds the tree's findings to `report`; returns a summary line.
fn check_dir(loaded: &Loaded, dir: &Path, build: bool, report: &mut Report) -> String {
    let problems = check_tree(&loaded.catalog, &DirTree(dir));
    for p in &problems {
        let (line, path) = loaded.locate(p.component.as_str(), "component_path");
        report.push(
            Severity::Error,
            line,
            path.to_string(),
            p.rule,
            format!("{}: {}", dir.display(), p.message),
        );
    }
    let overlays: Vec<(String, String)> = loaded
        .catalog
        .components()
        .iter()
        .filter(|c| !problems.iter().any(|p| p.component == c.id))
        .flat_map(|c| {
            loaded
                .catalog
                .tier_names()
                .map(move |t| (c.id.to_string(), format!("{}/{t}", c.component_path)))
        })
        .collect();
    let mut summary = format!("tree {}: {} overlays present", dir.display(), overlays.len());
    summary.push_str(&prune_candidates(loaded, dir, report));
    if build {
        summary.push_str(&build_overlays(loaded, dir, &overlays, report));
    }
    report.sort();
    summary
}

/// Version directories `prune` would remove with its default keep, judging by the catalog
/// alone (clusters may still use some: `prune` asks the service or the clusters file).
fn prune_candidates(loaded: &Loaded, dir: &Path, report: &mut Report) -> String {
    let in_use = crate::service::paths::in_use_offline(&loaded.catalog, None);
    let Ok(plan) = super::prune::plan(dir, &in_use, DEFAULT_KEEP) else {
        return String::new();
    };
    let mut n = 0;
    for c in &plan.components {
        let owner = loaded.catalog.components().iter().find(|k| {
            k.component_path
                .as_str()
                .rsplit_once('/')
                .is_some_and(|(p, _)| p == c.dir)
        });
        let (line, path) = owner.map_or((None, JsonPath::root()), |k| {
            loaded.locate(k.id.as_str(), "component_path")
        });
        for v in c.versions.iter().filter(|v| v.decision == Decision::Remove) {
            n += 1;
            let message = format!(
                "{}: {}/ is older than the newest {DEFAULT_KEEP} versions and the catalog does not use it; \
                 `prune` would remove it unless a cluster does",
                dir.display(),
                v.path
            );
            report.push(Severity::Info, line, path.to_string(), "prune-candidate", message);
        }
    }
    match n {
        0 => String::new(),
        n => format!(
            "; {n} old version director{} to prune",
            if n == 1 { "y" } else { "ies" }
        ),
    }
}

/// The first kustomize on PATH: kubectl's built-in one, or the standalone binary.
fn kustomize_command() -> Option<Vec<&'static str>> {
    let works = |cmd: &str, args: &[&str]| Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success());
    if works("kubectl", &["kustomize", "--help"]) {
        Some(vec!["kubectl", "kustomize"])
    } else if works("kustomize", &["version"]) {
        Some(vec!["kustomize", "build"])
    } else {
        None
    }
}

/// The gist of kustomize's stderr: its first lines, without klog's `E1122 04:22:49.2 1 run.go:72]` prefix.
fn first_lines(stderr: &str) -> String {
    let strip = |line: &str| -> String {
        let klog =
            line.len() > 5 && line.starts_with(['E', 'W', 'I']) && line[1..5].bytes().all(|b| b.is_ascii_digit());
        match (klog, line.find("] ")) {
            (true, Some(i)) => line[i + 2..].to_owned(),
            _ => line.to_owned(),
        }
    };
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .map(strip)
        .collect::<Vec<_>>()
        .join(" | ")
}

fn build_overlays(loaded: &Loaded, dir: &Path, overlays: &[(String, String)], report: &mut Report) -> String {
    let Some(cmd) = kustomize_command() else {
        report.push(
            Severity::Warning,
            None,
            "$".into(),
            "kustomize-missing",
            "--build skipped: neither `kubectl` nor `kustomize` is installed".into(),
        );
        return "; build skipped (no kustomize)".into();
    };
    let mut built = 0;
    for (component, overlay) in overlays {
        let result = Command::new(cmd[0]).args(&cmd[1..]).arg(dir.join(overlay)).output();
        let failure = match result {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(first_lines(&String::from_utf8_lossy(&out.stderr))),
            Err(e) => Some(e.to_string()),
        };
        match failure {
            None => built += 1,
            Some(why) => {
                let (line, path) = loaded.locate(component, "component_path");
                let message = format!("`{} {overlay}` failed: {why}", cmd.join(" "));
                report.push(Severity::Error, line, path.to_string(), "kustomize-build", message);
            }
        }
    }
    format!("; {built} built with `{}`", cmd.join(" "))
}

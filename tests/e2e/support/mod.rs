//! Helpers: run the binary, locate the repository, make scratch directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the binary in the repository root with `args` and optional standard input.
pub fn run(args: &[&str], stdin: Option<&str>) -> Run {
    run_in(&repo_root(), args, stdin)
}

pub fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    run_with(dir, args, stdin, &[])
}

/// Runs the binary in `dir` with `args`, optional standard input and environment variables set.
pub fn run_with(dir: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platform-catalog"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("stdin accepts input");
    }
    let out = child.wait_with_output().expect("the binary finishes");
    Run {
        code: out.status.code().expect("the binary exits with a code"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A scratch directory removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("platform-catalog-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir is creatable");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A copy of the example platform repo tree.
    pub fn with_example_tree() -> Self {
        let s = Scratch::new();
        copy_dir(&repo_root().join("examples/platform-repo"), s.path());
        s
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("target dir is creatable");
    for entry in std::fs::read_dir(from).expect("source dir is readable") {
        let entry = entry.expect("dir entry is readable");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type is readable").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("file is copyable");
        }
    }
}

pub fn kubectl_installed() -> bool {
    Command::new("kubectl")
        .args(["kustomize", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub mod app;
pub mod browser;
pub mod console;
pub mod http;
pub mod registry;
pub mod serve;

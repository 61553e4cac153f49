//! Flux artifacts: a directory (or a set of rendered files) packed as a deterministic gzip tar,
//! with the config and annotations `flux push artifact` writes.
//!
//! Deterministic means the same tree always gives the same bytes and so the same digest:
//! entries in sorted order, times, owners and names zeroed, modes normalised.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The parts of a Flux artifact before it is pushed.
#[derive(Clone, Debug)]
pub struct FluxArtifact {
    /// The content layer: gzip tar.
    pub layer: Vec<u8>,
    /// The config blob; Flux reads nothing from it.
    pub config: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// Where the content came from, for the manifest annotations.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    pub source: Option<String>,
    pub revision: Option<String>,
    /// RFC 3339; fixed by the caller so a rebuild of the same tree keeps its digest.
    pub created: String,
}

impl FluxArtifact {
    pub fn new(layer: Vec<u8>, provenance: &Provenance) -> FluxArtifact {
        let mut annotations = BTreeMap::new();
        annotations.insert(ANNOTATION_CREATED.to_owned(), provenance.created.clone());
        if let Some(s) = &provenance.source {
            annotations.insert(ANNOTATION_SOURCE.to_owned(), s.clone());
        }
        if let Some(r) = &provenance.revision {
            annotations.insert(ANNOTATION_REVISION.to_owned(), r.clone());
        }
        FluxArtifact {
            layer,
            config: b"{}".to_vec(),
            annotations,
        }
    }

    /// The sha256 digest of the content layer.
    pub fn layer_digest(&self) -> String {
        use sha2::Digest as _;
        format!("sha256:{:x}", sha2::Sha256::digest(&self.layer))
    }
}

enum Entry {
    Dir(String),
    File {
        path: String,
        data: Vec<u8>,
        executable: bool,
    },
}

/// Packs every file under `dir` (not `dir` itself; `.git` left out). Symlinks are refused:
/// Flux refuses them too, and following them would pack what the tree does not hold.
pub fn pack_tree(dir: &Path) -> Result<Vec<u8>, Error> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| Error::Read {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!("--tree {}: not a directory", dir.display())));
    }
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries)?;
    if !entries.iter().any(|e| matches!(e, Entry::File { .. })) {
        return Err(Error::Usage(format!("--tree {}: holds no files", dir.display())));
    }
    write_tar_gz(entries)
}

/// Packs named files (`path` relative, `/`-separated) with their parent directories.
pub fn pack_files(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, Error> {
    let mut dirs = BTreeSet::new();
    let mut entries = Vec::new();
    for (path, data) in files {
        check_relative(path)?;
        let mut parent = Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
        entries.push(Entry::File {
            path: path.clone(),
            data: data.clone(),
            executable: false,
        });
    }
    entries.extend(dirs.into_iter().map(Entry::Dir));
    write_tar_gz(entries)
}

fn check_relative(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        return Err(Error::Internal(format!(
            "artifact path {path:?} is not a plain relative path"
        )));
    }
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>) -> Result<(), Error> {
    let read = |path: &Path, source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| read(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| read(dir, err)))
        .collect::<Result<_, _>>()?;
    children.sort();
    for path in children {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| read(&path, e))?;
        let relative = path
            .strip_prefix(root)
            .map_err(|_| Error::Internal(format!("{} is outside the tree", path.display())))?;
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::Usage(format!("{}: a path that is not UTF-8", path.display())))?
            .join("/");
        if meta.file_type().is_symlink() {
            return Err(Error::Usage(format!(
                "{}: symlinks cannot go into a Flux artifact (Flux refuses them); copy the file instead",
                path.display()
            )));
        }
        if meta.is_dir() {
            if name == ".git" {
                continue;
            }
            out.push(Entry::Dir(name));
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let data = std::fs::read(&path).map_err(|e| read(&path, e))?;
            out.push(Entry::File {
                path: name,
                data,
                executable: is_executable(&meta),
            });
        } else {
            return Err(Error::Usage(format!(
                "{}: only regular files and directories can go into a Flux artifact",
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

fn write_tar_gz(mut entries: Vec<Entry>) -> Result<Vec<u8>, Error> {
    let key = |e: &Entry| match e {
        Entry::Dir(p) => p.clone(),
        Entry::File { path, .. } => path.clone(),
    };
    entries.sort_by_key(key);
    let io = |e: std::io::Error| Error::Internal(format!("packing the artifact: {e}"));
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for entry in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(io)?;
            }
            Entry::File { path, data, executable } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice()).map_err(io)?;
            }
        }
    }
    let gz = tar.into_inner().map_err(io)?;
    gz.finish().map_err(io)
}

/// One entry of a packed artifact, as Flux would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEntry {
    pub path: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub mtime: u64,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
}

/// Every entry of a gzip tar, in order.
pub fn entries(data: &[u8]) -> Result<Vec<TarEntry>, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| format!("not a gzip tar: {e}"))? {
        let entry = entry.map_err(|e| format!("not a gzip tar: {e}"))?;
        let header = entry.header();
        let path = entry
            .path()
            .map_err(|e| format!("an entry path is unreadable: {e}"))?
            .to_string_lossy()
            .into_owned();
        out.push(TarEntry {
            path,
            kind: header.entry_type(),
            mode: header.mode().unwrap_or(0),
            mtime: header.mtime().unwrap_or(u64::MAX),
            uid: header.uid().unwrap_or(u64::MAX),
            gid: header.gid().unwrap_or(u64::MAX),
            size: header.size().unwrap_or(0),
        });
    }
    Ok(out)
}

/// The regular files of a gzip tar, `./` stripped.
pub fn list_files(data: &[u8]) -> Result<BTreeSet<String>, String> {
    Ok(entries(data)?
        .into_iter()
        .filter(|e| e.kind == tar::EntryType::Regular || e.kind == tar::EntryType::Continuous)
        .map(|e| e.path.trim_start_matches("./").to_owned())
        .collect())
}

/// The files of a gzip tar with their contents (for reading a published artifact back).
pub fn read_files(data: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut out = BTreeMap::new();
    for entry in archive.entries().map_err(|e| format!("not a gzip tar: {e}"))? {
        let mut entry = entry.map_err(|e| format!("not a gzip tar: {e}"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| format!("an entry path is unreadable: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| format!("{path}: {e}"))?;
        out.insert(path, data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_files_are_byte_identical_sorted_and_owned_by_nobody() {
        let mut files = BTreeMap::new();
        files.insert("b/two.yaml".to_owned(), b"two\n".to_vec());
        files.insert("a.yaml".to_owned(), b"one\n".to_vec());
        let first = pack_files(&files).unwrap();
        assert_eq!(first, pack_files(&files).unwrap());
        let listed: Vec<(String, u32, u64, u64)> = entries(&first)
            .unwrap()
            .into_iter()
            .map(|e| (e.path, e.mode, e.mtime, e.uid + e.gid))
            .collect();
        assert_eq!(
            listed,
            [
                ("a.yaml".to_owned(), 0o644, 0, 0),
                ("b/".to_owned(), 0o755, 0, 0),
                ("b/two.yaml".to_owned(), 0o644, 0, 0)
            ]
        );
        assert_eq!(
            list_files(&first).unwrap().into_iter().collect::<Vec<_>>(),
            ["a.yaml", "b/two.yaml"]
        );
    }

    #[test]
    fn a_path_that_climbs_out_is_refused() {
        let mut files = BTreeMap::new();
        files.insert("../x.yaml".to_owned(), Vec::new());
        assert!(pack_files(&files).is_err());
    }
}

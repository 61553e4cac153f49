//! The OCI registry as the catalog sees it: settings, credentials, and a client that retries.
//!
//! Everything here talks to a real registry through oci-client. The service layer is
//! synchronous (diesel), so [`Registry`] owns a small runtime of its own and offers blocking
//! calls; each call has a deadline, so a slow registry costs a bounded wait, never a hang.

pub mod artifact;
mod auth;
mod client;
mod retry;

use std::path::PathBuf;
use std::time::Duration;

pub use auth::Credentials;
pub use client::{Listing, Registry};

use crate::error::Error;

/// Flux's media types for an artifact built by `flux push artifact`.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// How the catalog talks to registries. Credentials are never part of the catalog: they come
/// from a docker `config.json` or the environment.
#[derive(Clone)]
pub struct RegistrySettings {
    /// A docker `config.json` whose `auths` give basic credentials per registry host.
    pub auth_file: Option<PathBuf>,
    /// Credentials for every registry (`PLATFORM_CATALOG_REGISTRY_USERNAME/PASSWORD`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// One attempt of one registry call may take this long.
    pub timeout: Duration,
    /// Transient failures (connection, 5xx, 429, timeouts) are retried this many times.
    pub retries: u32,
    /// The first retry waits this long; each next one twice as long.
    pub backoff: Duration,
    /// Artifact layers over this size are refused, never downloaded in full.
    pub max_download_bytes: u64,
    /// How many content listings (one per build digest) are kept in memory.
    pub listing_cache_entries: usize,
    /// Tags asked for per page when listing; the registry may answer with fewer.
    pub tag_page: usize,
    /// Writes check that the build holds `<component_path>/<tier>/kustomization.yaml`.
    pub verify_paths: bool,
}

impl std::fmt::Debug for RegistrySettings {
    // By hand, so a password never reaches a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("auth_file", &self.auth_file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("max_download_bytes", &self.max_download_bytes)
            .finish()
    }
}

pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            auth_file: None,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(200),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            listing_cache_entries: 256,
            tag_page: 500,
            verify_paths: false,
        }
    }
}

/// A repository in a registry, from an `oci://HOST/PATH` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub repository: String,
    /// Plain http, only when the catalog (or the command line) says so.
    pub insecure: bool,
}

impl Target {
    pub fn parse(url: &str, insecure: bool) -> Result<Target, Error> {
        let parsed = catalog::ArtifactUrl::parse(url)?;
        let rest = parsed.as_str().trim_start_matches("oci://");
        let (host, repository) = rest.split_once('/').ok_or_else(|| {
            Error::Usage(format!(
                "{url}: must name a repository after the host (oci://HOST/PATH)"
            ))
        })?;
        Ok(Target {
            host: host.to_owned(),
            repository: repository.to_owned(),
            insecure,
        })
    }

    /// The same registry, another repository below it: `oci://host/prefix` + `cluster`.
    pub fn child(&self, name: &str) -> Target {
        Target {
            repository: format!("{}/{name}", self.repository),
            ..self.clone()
        }
    }

    pub fn url(&self) -> String {
        format!("oci://{}/{}", self.host, self.repository)
    }

    fn tagged(&self, tag: &str) -> oci_client::Reference {
        oci_client::Reference::with_tag(self.host.clone(), self.repository.clone(), tag.to_owned())
    }

    fn by_digest(&self, digest: &str) -> oci_client::Reference {
        oci_client::Reference::with_digest(self.host.clone(), self.repository.clone(), digest.to_owned())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)
    }
}

/// What went wrong talking to a registry, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The tag or digest does not exist there.
    #[error("{0} does not exist in the registry")]
    NotFound(String),
    /// The registry could not be reached or kept failing; try again later.
    #[error("the registry at {host} is unavailable: {message}")]
    Unavailable { host: String, message: String },
    /// The registry refused the credentials.
    #[error("the registry at {host} refused the credentials: {message}")]
    Unauthorized { host: String, message: String },
    /// What the registry holds is not what we can use (too big, wrong media type, bad tar).
    #[error("{0}")]
    Content(String),
}

impl From<RegistryError> for Error {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(what) => Error::NotFound {
                kind: "registry reference",
                name: what,
            },
            RegistryError::Unavailable { .. } => Error::Unavailable(e.to_string()),
            RegistryError::Unauthorized { .. } | RegistryError::Content(_) => Error::Invalid(e.to_string()),
        }
    }
}

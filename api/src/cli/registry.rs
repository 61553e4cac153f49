//! `platform-catalog push` and `retag`: what CI runs to publish builds of the platform tree.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use catalog::OciTag;
use clap::Args;

use crate::error::Error;
use crate::registry::artifact::{self, FluxArtifact, Provenance};
use crate::registry::{Registry, RegistrySettings, Target, FLUX_CONTENT_MEDIA_TYPE};

/// A password that never shows in `{:?}` output.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// How to reach registries; shared by `serve`, `push` and `retag`. Credentials come from a
/// docker config.json or the environment, never from the catalog.
#[derive(Clone, Debug, Args)]
pub struct RegistryArgs {
    /// A docker `config.json` whose `auths` hold credentials per registry host.
    #[arg(long, env = "PLATFORM_CATALOG_REGISTRY_CONFIG", value_name = "FILE")]
    registry_config: Option<PathBuf>,

    /// User for every registry (with PLATFORM_CATALOG_REGISTRY_PASSWORD); wins over --registry-config.
    #[arg(long, env = "PLATFORM_CATALOG_REGISTRY_USERNAME", value_name = "USER")]
    registry_username: Option<String>,

    /// Set it in the environment only: a flag would show in the process list.
    #[arg(
        long,
        env = "PLATFORM_CATALOG_REGISTRY_PASSWORD",
        hide_env_values = true,
        hide = true
    )]
    registry_password: Option<Secret>,

    /// Seconds one registry request may take before it counts as failed.
    #[arg(
        long,
        env = "PLATFORM_CATALOG_REGISTRY_TIMEOUT",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    registry_timeout: u64,

    /// Retries of a failed registry request (connection errors, 5xx, 429), waiting twice as long each time.
    #[arg(long, env = "PLATFORM_CATALOG_REGISTRY_RETRIES", default_value_t = 3)]
    registry_retries: u32,

    /// Builds whose content layer is larger are refused, not downloaded (path checks).
    #[arg(long, env = "PLATFORM_CATALOG_MAX_ARTIFACT_BYTES", default_value_t = crate::registry::DEFAULT_MAX_DOWNLOAD_BYTES)]
    max_artifact_bytes: u64,

    /// Check, before a write deploys (tag, path), that the build holds
    /// `<component_path>/<tier>/kustomization.yaml` (skipped while the registry is unreachable).
    #[arg(long, env = "PLATFORM_CATALOG_VERIFY_PATHS", default_value_t = true, action = clap::ArgAction::Set)]
    verify_paths: bool,
}

impl RegistryArgs {
    pub fn settings(&self) -> RegistrySettings {
        RegistrySettings {
            auth_file: self.registry_config.clone(),
            username: self.registry_username.clone(),
            password: self.registry_password.as_ref().map(|s| s.0.clone()),
            timeout: Duration::from_secs(self.registry_timeout.max(1)),
            retries: self.registry_retries,
            max_download_bytes: self.max_artifact_bytes,
            verify_paths: self.verify_paths,
            ..RegistrySettings::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The directory to pack (the platform repo tree, with `<component_path>/<tier>/kustomization.yaml`).
    #[arg(long, value_name = "DIR")]
    tree: PathBuf,

    /// Where to push: oci://HOST/PATH.
    #[arg(long, value_name = "URL")]
    artifact: String,

    /// The tag to push; tags are immutable (see --force).
    #[arg(long)]
    tag: String,

    /// The source repository, for the `org.opencontainers.image.source` annotation.
    #[arg(long, value_name = "URL")]
    source: Option<String>,

    /// The source revision (e.g. `main@sha1:<commit>`), for `org.opencontainers.image.revision`.
    #[arg(long, value_name = "REV")]
    revision: Option<String>,

    /// The `org.opencontainers.image.created` time (RFC 3339). Default: SOURCE_DATE_EPOCH when
    /// set, else 1970-01-01T00:00:00Z, so the same tree always gives the same digest.
    #[arg(long, value_name = "TIME")]
    created: Option<String>,

    /// Move an existing tag to different content. Clusters following the tag change under
    /// everyone's feet: this is what the catalog exists to prevent.
    #[arg(long)]
    force: bool,

    /// Talk plain http to the registry (local or test registries only).
    #[arg(long)]
    insecure: bool,

    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct RetagArgs {
    /// The repository: oci://HOST/PATH.
    #[arg(long, value_name = "URL")]
    artifact: String,

    /// The existing tag.
    #[arg(long, value_name = "TAG")]
    from: String,

    /// The new tag; refused when it exists with another digest.
    #[arg(long, value_name = "TAG")]
    to: String,

    /// Talk plain http to the registry (local or test registries only).
    #[arg(long)]
    insecure: bool,

    #[command(flatten)]
    registry: RegistryArgs,
}

fn created_time(given: Option<&str>) -> Result<String, Error> {
    if let Some(t) = given {
        let parsed = chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| Error::Usage(format!("--created {t:?}: not an RFC 3339 time ({e})")))?;
        return Ok(parsed.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::Usage(format!("SOURCE_DATE_EPOCH {s:?}: not a number of seconds")))?,
        Err(_) => 0,
    };
    let time = chrono::DateTime::from_timestamp(epoch, 0)
        .ok_or_else(|| Error::Usage(format!("SOURCE_DATE_EPOCH {epoch}: out of range")))?;
    Ok(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn tag(value: &str, flag: &str) -> Result<OciTag, Error> {
    OciTag::parse(value).map_err(|e| Error::Usage(format!("{flag}: {e}")))
}

pub fn push(args: PushArgs) -> Result<ExitCode, Error> {
    let tag = tag(&args.tag, "--tag")?;
    let target = Target::parse(&args.artifact, args.insecure)?;
    let layer = artifact::pack_tree(&args.tree)?;
    let provenance = Provenance {
        source: args.source.clone(),
        revision: args.revision.clone(),
        created: created_time(args.created.as_deref())?,
    };
    let built = FluxArtifact::new(layer, &provenance);
    let registry = Registry::new(args.registry.settings())?;
    if let Some(existing) = registry.digest(&target, tag.as_str())? {
        if same_build(&registry, &target, &existing, &built)? {
            eprintln!("{target}:{tag} already holds this build: nothing pushed");
            crate::sayln!("{existing}");
            return Ok(ExitCode::SUCCESS);
        }
        if !args.force {
            return Err(Error::Invalid(format!(
                "{target}:{tag} already points at {existing}, a different build; tags are immutable: \
                 push a new tag (or --force to move it, which changes what every cluster on {tag} runs)"
            )));
        }
        eprintln!(
            "WARNING: --force: moving {target}:{tag} away from {existing}. Clusters pinned to the old \
             digest keep it; clusters following the tag get the new build, and the catalog will report \
             the tag as moved."
        );
    }
    let digest = registry.push_flux(&target, tag.as_str(), &built)?;
    eprintln!("pushed {target}:{tag}");
    crate::sayln!("{digest}");
    Ok(ExitCode::SUCCESS)
}

/// Whether the tag's manifest is exactly what `built` would push: same content, config and annotations.
fn same_build(registry: &Registry, target: &Target, reference: &str, built: &FluxArtifact) -> Result<bool, Error> {
    let (manifest, _, _) = registry.manifest(target, reference)?;
    let layers: Vec<(&str, &str)> = manifest
        .layers
        .iter()
        .map(|l| (l.media_type.as_str(), l.digest.as_str()))
        .collect();
    let layer_digest = built.layer_digest();
    Ok(layers == [(FLUX_CONTENT_MEDIA_TYPE, layer_digest.as_str())]
        && manifest.annotations.as_ref() == Some(&built.annotations))
}

pub fn retag(args: RetagArgs) -> Result<ExitCode, Error> {
    let (from, to) = (tag(&args.from, "--from")?, tag(&args.to, "--to")?);
    let target = Target::parse(&args.artifact, args.insecure)?;
    let registry = Registry::new(args.registry.settings())?;
    let Some(digest) = registry.digest(&target, from.as_str())? else {
        return Err(Error::Invalid(format!("--from: {target}:{from} does not exist")));
    };
    match registry.digest(&target, to.as_str())? {
        Some(existing) if existing == digest => {
            eprintln!("{target}:{to} already points at {digest}: nothing to do");
        }
        Some(existing) => {
            return Err(Error::Invalid(format!(
                "--to: {target}:{to} already points at {existing}, not at {from}'s {digest}; tags are immutable"
            )));
        }
        None => {
            let moved = registry.retag(&target, &digest, to.as_str())?;
            eprintln!("tagged {target}:{to} = {target}:{from}");
            debug_assert_eq!(moved, digest);
        }
    }
    crate::sayln!("{digest}");
    Ok(ExitCode::SUCCESS)
}

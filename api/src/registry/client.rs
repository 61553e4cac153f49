//! The registry client: oci-client calls with a deadline, retries with backoff, and a bounded
//! cache of build content listings.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use oci_client::Client;

use super::artifact::FluxArtifact;
use super::auth::{credentials_for, registry_auth};
use super::retry::{Bounded, Retry};
use super::{
    RegistryError, RegistrySettings, Target, FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE,
};
use crate::error::Error;

/// HEAD requests in flight at once when resolving many digests.
const PARALLEL_HEADS: usize = 16;

/// The files of one build, by manifest digest.
#[derive(Debug)]
pub struct Listing {
    pub digest: String,
    pub files: BTreeSet<String>,
}

/// Listings by digest, and the digests in the order they came (oldest first, dropped first).
type ListingCache = (HashMap<String, Arc<Listing>>, VecDeque<String>);

/// Blocking access to registries. Owns a runtime so the synchronous service layer can call it
/// from its worker threads (never from inside an async task).
pub struct Registry {
    settings: RegistrySettings,
    runtime: Option<tokio::runtime::Runtime>,
    https: Client,
    http: Client,
    listings: Mutex<ListingCache>,
    /// When each host last proved unreachable, so path checks skip it for a while instead of
    /// paying the retries on every write.
    down: Mutex<HashMap<String, std::time::Instant>>,
}

/// How long a host that proved unreachable is skipped by path checks.
const DOWN_MEMORY: Duration = Duration::from_secs(30);

impl Drop for Registry {
    fn drop(&mut self) {
        // The last owner may be an async worker, where a blocking runtime shutdown panics.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Registry {
    pub fn new(settings: RegistrySettings) -> Result<Registry, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("registry")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the registry runtime: {e}")))?;
        let config = |protocol| ClientConfig {
            protocol,
            connect_timeout: Some(settings.timeout),
            read_timeout: Some(settings.timeout),
            ..ClientConfig::default()
        };
        Ok(Registry {
            https: Client::new(config(ClientProtocol::Https)),
            http: Client::new(config(ClientProtocol::Http)),
            settings,
            runtime: Some(runtime),
            listings: Mutex::new((HashMap::new(), VecDeque::new())),
            down: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    fn client(&self, target: &Target) -> &Client {
        if target.insecure {
            &self.http
        } else {
            &self.https
        }
    }

    fn block<T>(&self, fut: impl Future<Output = T>) -> Result<T, Error> {
        match &self.runtime {
            Some(rt) => Ok(rt.block_on(fut)),
            None => Err(Error::Internal("the registry runtime has stopped".into())),
        }
    }

    fn auth(&self, target: &Target) -> Result<oci_client::secrets::RegistryAuth, Error> {
        Ok(registry_auth(credentials_for(&self.settings, &target.host)?.as_ref()))
    }

    /// Runs `op` with the deadline, retrying transient failures with doubling waits.
    async fn retrying<T, F, Fut>(&self, target: &Target, op: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        Retry {
            settings: self.settings.clone(),
            target: target.clone(),
        }
        .run(op)
        .await
    }

    /// Every tag of the repository, following the registry's pages; an unknown repository has none.
    pub fn list_tags(&self, target: &Target) -> Result<Vec<String>, Error> {
        let auth = self.auth(target)?;
        let image = target.tagged("latest");
        let client = self.client(target);
        let page_size = self.settings.tag_page.max(1);
        self.block(async {
            // Registries page by `n` and `last` (lexically after), but some ignore both and
            // answer the whole list, unsorted (Debian's distribution 2.8 does): so tags are
            // deduplicated, the next page starts after the page's greatest tag, and a page that
            // adds nothing ends the listing.
            let mut seen: HashSet<String> = HashSet::new();
            let mut all: Vec<String> = Vec::new();
            let mut last: Option<String> = None;
            loop {
                let page = match self
                    .retrying(target, || {
                        client.list_tags(&image, &auth, Some(page_size), last.as_deref())
                    })
                    .await
                {
                    Ok(page) => page.tags,
                    Err(RegistryError::NotFound(_)) if all.is_empty() => Vec::new(),
                    Err(e) => return Err(e),
                };
                let full = page.len() >= page_size;
                let greatest = page.iter().max().cloned();
                let before = all.len();
                for tag in page {
                    if seen.insert(tag.clone()) {
                        all.push(tag);
                    }
                }
                if !full || all.len() == before {
                    return Ok(all);
                }
                last = greatest;
            }
        })?
        .map_err(Error::from)
    }

    /// The manifest digest a tag points at, or `None` when the tag does not exist.
    pub fn digest(&self, target: &Target, tag: &str) -> Result<Option<String>, Error> {
        let auth = self.auth(target)?;
        let client = self.client(target);
        let image = target.tagged(tag);
        match self.block(self.retrying(target, || client.fetch_manifest_digest(&image, &auth)))? {
            Ok(d) => Ok(Some(d)),
            Err(RegistryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The digests of many tags, a few requests at a time; `None` for a tag that vanished.
    pub fn digests(&self, target: &Target, tags: &[String]) -> Result<Vec<(String, Option<String>)>, Error> {
        let auth = self.auth(target)?;
        let client = self.client(target);
        self.block(async {
            // A sliding window: a slow answer holds up one slot, not a whole batch.
            let mut set = tokio::task::JoinSet::new();
            let mut results: Vec<Option<Result<String, RegistryError>>> = Vec::new();
            results.resize_with(tags.len(), || None);
            let mut next = 0;
            while next < tags.len() || !set.is_empty() {
                while next < tags.len() && set.len() < PARALLEL_HEADS {
                    let (client, auth, image) = (client.clone(), auth.clone(), target.tagged(&tags[next]));
                    let retry = Retry {
                        settings: self.settings.clone(),
                        target: target.clone(),
                    };
                    let i = next;
                    set.spawn(async move { (i, retry.run(|| client.fetch_manifest_digest(&image, &auth)).await) });
                    next += 1;
                }
                if let Some(joined) = set.join_next().await {
                    let (i, r) = joined.map_err(|e| RegistryError::Content(format!("a registry task failed: {e}")))?;
                    results[i] = Some(r);
                }
            }
            let mut out = Vec::with_capacity(tags.len());
            for (tag, r) in tags.iter().zip(results) {
                let digest = match r {
                    Some(Ok(d)) => Some(d),
                    Some(Err(RegistryError::NotFound(_))) | None => None,
                    Some(Err(e)) => return Err(e),
                };
                out.push((tag.clone(), digest));
            }
            Ok(out)
        })?
        .map_err(Error::from)
    }

    /// The manifest of `reference` (a tag or a digest) as stored, with its digest.
    pub fn manifest(&self, target: &Target, reference: &str) -> Result<(OciImageManifest, Vec<u8>, String), Error> {
        let auth = self.auth(target)?;
        let client = self.client(target);
        let image = self.reference(target, reference);
        let (body, digest) = self.block(self.retrying(target, || {
            client.pull_manifest_raw(&image, &auth, &[OCI_MANIFEST_MEDIA_TYPE])
        }))??;
        let manifest: OciImageManifest = serde_json::from_slice(&body).map_err(|e| {
            Error::from(RegistryError::Content(format!(
                "{target}@{reference}: not an OCI image manifest: {e}"
            )))
        })?;
        Ok((manifest, body.to_vec(), digest))
    }

    fn reference(&self, target: &Target, reference: &str) -> oci_client::Reference {
        if reference.starts_with("sha256:") {
            target.by_digest(reference)
        } else {
            target.tagged(reference)
        }
    }

    /// Pushes a Flux artifact under `tag` and returns its manifest digest, as the registry reports it.
    pub fn push_flux(&self, target: &Target, tag: &str, artifact: &FluxArtifact) -> Result<String, Error> {
        let auth = self.auth(target)?;
        let client = self.client(target);
        let image = target.tagged(tag);
        let layers = vec![ImageLayer::new(
            artifact.layer.clone(),
            FLUX_CONTENT_MEDIA_TYPE.to_owned(),
            None,
        )];
        let config = Config::new(artifact.config.clone(), FLUX_CONFIG_MEDIA_TYPE.to_owned(), None);
        let mut manifest = OciImageManifest::build(&layers, &config, Some(artifact.annotations.clone()));
        manifest.media_type = Some(OCI_MANIFEST_MEDIA_TYPE.to_owned());
        self.block(self.retrying(target, || {
            client.push(&image, &layers, config.clone(), &auth, Some(manifest.clone()))
        }))??;
        self.digest(target, tag)?
            .ok_or_else(|| Error::from(RegistryError::NotFound(format!("{target}:{tag} right after the push"))))
    }

    /// Points `to` at the manifest `from` points at, re-uploading nothing; returns the digest.
    pub fn retag(&self, target: &Target, from: &str, to: &str) -> Result<String, Error> {
        let (_, body, digest) = self.manifest(target, from)?;
        self.put_manifest(target, to, body)?;
        Ok(digest)
    }

    /// Stores a manifest's exact bytes under `tag`, so the digest stays the same.
    pub fn put_manifest(&self, target: &Target, tag: &str, body: Vec<u8>) -> Result<(), Error> {
        let auth = self.auth(target)?;
        let client = self.client(target);
        let image = target.tagged(tag);
        let content_type = reqwest_header(OCI_MANIFEST_MEDIA_TYPE);
        self.block(async {
            // Authenticates for the push scope the way `push` does before its first request.
            client.store_auth_if_needed(image.resolve_registry(), &auth).await;
            self.retrying(target, || {
                client.push_manifest_raw(&image, body.clone(), content_type.clone())
            })
            .await
        })??;
        Ok(())
    }

    /// The Flux content layer of a build (by tag or digest), refused when over the size bound.
    pub fn pull_content(&self, target: &Target, reference: &str) -> Result<(String, Vec<u8>), Error> {
        let (manifest, _, digest) = self.manifest(target, reference)?;
        let layer = manifest
            .layers
            .iter()
            .find(|l| l.media_type == FLUX_CONTENT_MEDIA_TYPE)
            .ok_or_else(|| {
                Error::from(RegistryError::Content(format!(
                    "{target}@{digest} has no {FLUX_CONTENT_MEDIA_TYPE} layer: not a Flux artifact"
                )))
            })?
            .clone();
        let limit = self.settings.max_download_bytes;
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > limit {
            return Err(RegistryError::Content(format!(
                "{target}@{digest}: the content layer is {} bytes, over the {limit}-byte download limit",
                layer.size
            ))
            .into());
        }
        let auth = self.auth(target)?;
        let client = self.client(target);
        let image = target.by_digest(&digest);
        let data = self.block(async {
            client.store_auth_if_needed(image.resolve_registry(), &auth).await;
            self.retrying(target, || async {
                let mut sink = Bounded {
                    data: Vec::new(),
                    limit,
                };
                client.pull_blob(&image, &layer, &mut sink).await?;
                Ok(sink.data)
            })
            .await
        })??;
        Ok((digest, data))
    }

    /// The files of a build, by manifest digest; a digest's listing never changes, so it is
    /// cached (the oldest dropped first once the cache is full).
    pub fn listing(&self, target: &Target, digest: &str) -> Result<Arc<Listing>, Error> {
        if let Some(found) = self.cached(digest)? {
            return Ok(found);
        }
        let (digest, data) = self.pull_content(target, digest)?;
        let files = super::artifact::list_files(&data)
            .map_err(|e| Error::from(RegistryError::Content(format!("{target}@{digest}: {e}"))))?;
        let listing = Arc::new(Listing {
            digest: digest.clone(),
            files,
        });
        let mut cache = self.listings.lock().map_err(poisoned)?;
        let (map, order) = &mut *cache;
        if map.insert(digest.clone(), listing.clone()).is_none() {
            order.push_back(digest);
            while order.len() > self.settings.listing_cache_entries.max(1) {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
        Ok(listing)
    }

    /// The cached listing of a build, without asking the registry.
    pub fn cached_listing(&self, digest: &str) -> Option<Arc<Listing>> {
        self.cached(digest).ok().flatten()
    }

    /// Remembers that `host` could not be reached just now.
    pub fn mark_down(&self, host: &str) {
        if let Ok(mut down) = self.down.lock() {
            down.insert(host.to_owned(), std::time::Instant::now());
        }
    }

    /// Whether `host` proved unreachable within the last 30 seconds.
    pub fn down_recently(&self, host: &str) -> bool {
        self.down
            .lock()
            .map(|d| d.get(host).is_some_and(|at| at.elapsed() < DOWN_MEMORY))
            .unwrap_or(false)
    }

    fn cached(&self, digest: &str) -> Result<Option<Arc<Listing>>, Error> {
        Ok(self.listings.lock().map_err(poisoned)?.0.get(digest).cloned())
    }

    /// How many listings the cache holds (for tests and metrics).
    pub fn cached_listings(&self) -> usize {
        self.listings.lock().map(|c| c.0.len()).unwrap_or(0)
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("the listing cache lock was poisoned".into())
}

fn reqwest_header(value: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(value)
}

//! Talking to a registry that may be slow or down: each call with a deadline, transient
//! failures retried with doubling waits, oci-client's errors sorted into ours, and downloads
//! bounded in size.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::{RegistryError, RegistrySettings, Target};

enum Failure {
    Final(RegistryError),
    Transient(String),
}

/// The retry loop for tasks that cannot borrow the [`Registry`].
pub(super) struct Retry {
    pub settings: RegistrySettings,
    pub target: Target,
}

impl Retry {
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut wait = self.settings.backoff;
        let mut attempt = 0;
        loop {
            let failure = match tokio::time::timeout(self.settings.timeout, op()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => classify(&self.target.host, e),
                Err(_) => Failure::Transient(format!("no answer within {:?}", self.settings.timeout)),
            };
            match failure {
                Failure::Final(e) => return Err(e),
                Failure::Transient(message) if attempt >= self.settings.retries => {
                    return Err(RegistryError::Unavailable {
                        host: self.target.host.clone(),
                        message: format!("{message} (after {} attempt(s))", attempt + 1),
                    })
                }
                Failure::Transient(message) => {
                    tracing::debug!(registry = %self.target.host, attempt, %message, "registry call failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

/// Sorts an oci-client error into: gone, refused, retry, or unusable.
fn classify(host: &str, e: OciDistributionError) -> Failure {
    use OciDistributionError as E;
    let unauthorized = |message: String| {
        Failure::Final(RegistryError::Unauthorized {
            host: host.to_owned(),
            message,
        })
    };
    match e {
        E::ImageManifestNotFoundError(what) => Failure::Final(RegistryError::NotFound(what)),
        E::UnauthorizedError { url } | E::AuthenticationFailure(url) => unauthorized(url),
        E::RegistryError { envelope, url } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown
                )
            }) {
                Failure::Final(RegistryError::NotFound(url))
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                unauthorized(url)
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Toomanyrequests)) {
                Failure::Transient(format!("{url}: too many requests"))
            } else {
                Failure::Final(RegistryError::Content(format!("{url}: {envelope}")))
            }
        }
        E::ServerError { code: 404, url, .. } => Failure::Final(RegistryError::NotFound(url)),
        E::ServerError {
            code: 401 | 403, url, ..
        } => unauthorized(url),
        E::ServerError { code, url, .. } if code == 429 || code >= 500 => {
            Failure::Transient(format!("{url} answered {code}"))
        }
        E::RequestError(e) => Failure::Transient(e.to_string()),
        E::IoError(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            Failure::Final(RegistryError::Content(e.to_string()))
        }
        E::IoError(e) => Failure::Transient(e.to_string()),
        other => Failure::Final(RegistryError::Content(other.to_string())),
    }
}

/// Collects a download and fails once it passes `limit`, so a lying size costs no memory.
pub(super) struct Bounded {
    pub data: Vec<u8>,
    pub limit: u64,
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if (self.data.len() + buf.len()) as u64 > self.limit {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("the download passed the {}-byte limit", self.limit),
            )));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

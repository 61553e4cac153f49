//! Where the client connects and with which token: the contexts file
//! (`$XDG_CONFIG_HOME/platform-catalog/config.yaml`, else `~/.config/…`), overridden by
//! `--server`/`--token` and their environment variables.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The contexts file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// A service and how to get a token for it: one of `token`, `token_file` or `token_command`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// A shell command printing the token (a secret manager, `pass`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_command: Option<String>,
}

impl Context {
    /// Where its token comes from, for messages: never the token itself.
    pub fn token_source(&self) -> String {
        match (&self.token, &self.token_file, &self.token_command) {
            (Some(_), _, _) => "its stored token".to_owned(),
            (None, Some(f), _) => format!("the token in {}", f.display()),
            (None, None, Some(c)) => format!("the token printed by `{c}`"),
            (None, None, None) => "no token".to_owned(),
        }
    }

    /// The token, read from wherever the context keeps it.
    pub fn token(&self) -> Result<Option<String>, Error> {
        if let Some(t) = &self.token {
            return Ok(Some(t.clone()));
        }
        if let Some(path) = &self.token_file {
            return Ok(Some(crate::cli::read_file(path)?.trim().to_owned()));
        }
        let Some(command) = &self.token_command else {
            return Ok(None);
        };
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::Usage(format!("cannot run the token command `{command}`: {e}")))?;
        if !out.status.success() {
            return Err(Error::Usage(format!(
                "the token command `{command}` failed ({})",
                out.status
            )));
        }
        let token = String::from_utf8(out.stdout)
            .map_err(|_| Error::Usage(format!("the token command `{command}` printed something not UTF-8")))?;
        Ok(Some(token.trim().to_owned()))
    }
}

/// The contexts file's path: `$XDG_CONFIG_HOME`, else `$HOME/.config`.
pub fn path() -> Result<PathBuf, Error> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
            .ok_or_else(|| Error::Usage("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep contexts".into()))?,
    };
    Ok(base.join("platform-catalog").join("config.yaml"))
}

/// The contexts file, or an empty one when there is none yet.
pub fn load(path: &Path) -> Result<Config, Error> {
    if !path.exists() {
        return Ok(Config::default());
    }
    let text = crate::cli::read_file(path)?;
    let value = catalog::yaml::parse(&text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?
        .value;
    if value.is_null() {
        return Ok(Config::default());
    }
    serde_json::from_value(value).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// Writes the contexts file, readable by its owner only: it may hold tokens.
pub fn save(path: &Path, config: &Config) -> Result<(), Error> {
    let io = |source: std::io::Error| Error::Read {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let value = serde_json::to_value(config).map_err(|e| Error::Internal(e.to_string()))?;
    let text = catalog::yaml::to_yaml(&value);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // A file made before with wider permissions is narrowed too.
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// What the command line says about where to connect.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub server: Option<String>,
    pub token: Option<String>,
    pub context: Option<String>,
}

/// Where a command connects, with which token, and how to name that token in messages.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub server: String,
    pub token: Option<String>,
    /// `context "prod" (its stored token)`, `--token`, …
    pub credential: String,
}

/// `--server`/`--token` (or their environment variables) win over the context; the context is
/// `--context`, else the current one.
pub fn resolve(target: &Target) -> Result<Resolved, Error> {
    let file = path()?;
    let config = load(&file)?;
    let name = target.context.clone().or(config.current_context.clone());
    let context = match &name {
        Some(n) => Some(config.contexts.get(n).ok_or_else(|| {
            Error::Usage(format!(
                "no context {n:?} in {}; add it with `platform-catalog config set-context`",
                file.display()
            ))
        })?),
        None => None,
    };
    let server = target
        .server
        .clone()
        .or(context.map(|c| c.server.clone()))
        .ok_or_else(|| {
            Error::Usage(
                "no server: pass --server URL, set PLATFORM_CATALOG_SERVER, or add a context with \
                 `platform-catalog config set-context NAME --server URL`"
                    .into(),
            )
        })?;
    let (token, credential) = match (&target.token, context) {
        (Some(t), _) => (
            Some(t.clone()),
            "the token from --token or PLATFORM_CATALOG_TOKEN".to_owned(),
        ),
        (None, Some(c)) => (
            c.token()?,
            format!("context {:?} ({})", name.clone().unwrap_or_default(), c.token_source()),
        ),
        (None, None) => (None, "no token".to_owned()),
    };
    Ok(Resolved {
        server: server.trim_end_matches('/').to_owned(),
        token,
        credential,
    })
}

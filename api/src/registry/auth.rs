//! Registry credentials: from the environment, or a docker `config.json`'s `auths`.

use std::path::Path;

use base64::Engine;
use oci_client::secrets::RegistryAuth;

use super::RegistrySettings;
use crate::error::Error;

/// Basic credentials for one registry host. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// The credentials for `host`: the environment's pair wins, then the config file's entry for
/// the host (with or without a scheme); anonymous otherwise.
pub fn credentials_for(settings: &RegistrySettings, host: &str) -> Result<Option<Credentials>, Error> {
    if let (Some(username), Some(password)) = (&settings.username, &settings.password) {
        return Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    match &settings.auth_file {
        Some(path) => from_docker_config(path, host),
        None => Ok(None),
    }
}

pub(super) fn registry_auth(creds: Option<&Credentials>) -> RegistryAuth {
    match creds {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    }
}

fn from_docker_config(path: &Path, host: &str) -> Result<Option<Credentials>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a docker config.json: {e}", path.display())))?;
    let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let entry = auths.iter().find(|(key, _)| {
        let key = key.trim_start_matches("https://").trim_start_matches("http://");
        key.trim_end_matches('/') == host || key.split('/').next() == Some(host)
    });
    let Some((key, entry)) = entry else { return Ok(None) };
    // The file's contents stay out of every message: only the host and the rule are named.
    let bad = |rule: &str| Error::Usage(format!("{}: auths[{key:?}] {rule}", path.display()));
    if let (Some(u), Some(p)) = (
        entry.get("username").and_then(|v| v.as_str()),
        entry.get("password").and_then(|v| v.as_str()),
    ) {
        return Ok(Some(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        }));
    }
    let Some(encoded) = entry.get("auth").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("has an `auth` that is not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("has an `auth` that is not UTF-8"))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| bad("has an `auth` that is not base64 of user:password"))?;
    Ok(Some(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_auth_entry_gives_the_user_and_password_for_its_host() {
        let dir = std::env::temp_dir().join(format!("pc-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"registry.example.com:5000": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let settings = RegistrySettings {
            auth_file: Some(path),
            ..RegistrySettings::default()
        };
        let found = credentials_for(&settings, "registry.example.com:5000")
            .unwrap()
            .unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("ci", "s3cret"));
        assert_eq!(format!("{found:?}"), "Credentials(ci, <redacted>)");
        assert_eq!(credentials_for(&settings, "other.example.com").unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}

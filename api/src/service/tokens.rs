//! API tokens: issuing, checking and revoking them. Only a hash of each secret is stored.
//!
//! A token reads `pcat_<id>_<secret>`: `<id>` (12 hex characters) is public and finds the row,
//! `<secret>` (32 random bytes as hex) is checked against the stored SHA-256 in constant time.

use catalog::ClusterName;
use chrono::{Duration, NaiveDateTime, Utc};

use super::{AppState, Caller, Ctx};
use crate::db::models::{NewTokenRow, TokenRow};
use crate::error::Error;
use crate::store::{self, effective::sha256_hex};

const PREFIX: &str = "pcat_";
const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// How stale `last_used_at` may be before a request refreshes it: at most one write a minute
/// per token, not one per request.
const LAST_USE_GRANULARITY: Duration = Duration::seconds(60);

/// What a token may do; see `http::access` for the routes each role reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Only its own cluster's render and inputs.
    Cluster,
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Viewer, Role::Cluster];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::Cluster => "cluster",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Who an authenticated request acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// The cluster a `cluster` token belongs to.
    pub cluster: Option<String>,
}

/// A token as the API and the CLI show it: never the secret, never the hash.
#[derive(Clone, Debug)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub cluster: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl TryFrom<TokenRow> for Token {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<Token, Error> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| Error::Internal(format!("token {:?} has an unknown role {:?}", row.name, row.role)))?;
        Ok(Token {
            name: row.name,
            role,
            cluster: row.cluster,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        })
    }
}

/// A token's name: 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or
/// digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(name: &str) -> Result<TokenName, String> {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
        match ok {
            true => Ok(TokenName(name.to_owned())),
            false => Err(
                "a token name is 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
                    .to_owned(),
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token to issue. Its `lifetime` (at most `time::MAX_DURATION_DAYS`) runs from when the
/// service issues it, by the service's clock.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: TokenName,
    pub role: Role,
    pub cluster: Option<ClusterName>,
    pub lifetime: Option<Duration>,
}

/// Equal-length byte strings compared without an early exit, so timing does not reveal how
/// much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness for a token: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn check(new: &NewToken) -> Result<(), Error> {
    match (new.role, &new.cluster) {
        (Role::Cluster, None) => Err(Error::refused("cluster", "a cluster token names its cluster")),
        (Role::Cluster, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(Error::refused("cluster", "only cluster tokens name a cluster")),
    }
}

/// Issues a token; returns it as shown and the secret token text, which is never stored. A
/// cluster token needs its cluster to exist.
pub fn create(state: &AppState, caller: &Caller, new: NewToken) -> Result<(Token, String), Error> {
    check(&new)?;
    let token_id = random_hex(ID_BYTES)?;
    let secret = random_hex(SECRET_BYTES)?;
    let outcome = state.write(caller, false, "token issued", |ctx| {
        let name = new.name.as_str().to_owned();
        if store::token_by_name(ctx.conn, &name)?.is_some() {
            return Err(Error::Conflict(format!("a token named {name:?} exists already")));
        }
        let cluster = new.cluster.as_ref().map(ClusterName::to_string);
        if let Some(cluster) = &cluster {
            if store::cluster(ctx.conn, cluster)?.is_none() {
                return Err(Error::refused(
                    "cluster",
                    format!("no cluster is named {cluster:?}; a cluster token is issued for an existing cluster"),
                ));
            }
        }
        let expires_at = new
            .lifetime
            .map(|d| {
                ctx.now
                    .checked_add_signed(d)
                    .ok_or_else(|| Error::refused("expires", "from now is past the last time this service can store"))
            })
            .transpose()?;
        let row = NewTokenRow {
            name: name.clone(),
            token_id: token_id.clone(),
            secret_sha256: sha256_hex(secret.as_bytes()),
            role: new.role.as_str().to_owned(),
            cluster: cluster.clone(),
            created_by: ctx.caller().actor.clone(),
            created_at: ctx.now,
            expires_at,
        };
        store::insert_token(ctx.conn, &row)?;
        let token = Token {
            name,
            role: new.role,
            cluster,
            created_by: row.created_by,
            created_at: ctx.now,
            expires_at,
            last_used_at: None,
        };
        audit(ctx, "token.create", &token);
        Ok(token)
    })?;
    state.verified.forget();
    Ok((outcome.value, format!("{PREFIX}{token_id}_{secret}")))
}

/// The audit entry for a token change: what the token list shows, nothing secret.
fn audit(ctx: &mut Ctx<'_>, action: &str, token: &Token) {
    let shown = serde_json::json!({
        "name": token.name,
        "role": token.role.as_str(),
        "cluster": token.cluster,
        "expires_at": token.expires_at.map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    });
    let target = format!("token/{}", token.name);
    match action {
        "token.revoke" => ctx.audit(action, &target, Some(&shown), None::<&serde_json::Value>),
        _ => ctx.audit(action, &target, None::<&serde_json::Value>, Some(&shown)),
    }
}

pub fn list(state: &AppState) -> Result<Vec<Token>, Error> {
    let mut conn = state.conn()?;
    store::tokens(&mut conn)?.into_iter().map(Token::try_from).collect()
}

/// Whether a token row is an admin token that still works at `now`.
fn active_admin(row: &TokenRow, now: NaiveDateTime) -> bool {
    row.role == Role::Admin.as_str() && row.expires_at.is_none_or(|at| at > now)
}

/// Deletes a token; the next request that carries it is refused. The last active admin token
/// is never revoked: nobody could manage tokens (or anything else) afterwards.
pub fn revoke(state: &AppState, caller: &Caller, name: &str) -> Result<(), Error> {
    // Forget verified tokens before and after: no request may pass on the revoked one.
    state.verified.forget();
    let revoked = state.write(caller, false, "token revoked", |ctx| {
        let row = store::token_by_name(ctx.conn, name)?.ok_or_else(|| Error::NotFound {
            kind: "token",
            name: name.to_owned(),
        })?;
        let now = ctx.now;
        if active_admin(&row, now) {
            let others = store::tokens(ctx.conn)?
                .iter()
                .filter(|t| t.name != row.name && active_admin(t, now))
                .count();
            if others == 0 {
                return Err(Error::Conflict(format!(
                    "token {name:?} is the last active admin token; revoking it would lock every admin out. \
                     Create another admin token first (POST /api/v1/tokens with \"role\": \"admin\", or \
                     `platform-catalog token create --role admin --name NAME`)"
                )));
            }
        }
        let token = Token::try_from(row)?;
        store::delete_token(ctx.conn, name)?;
        audit(ctx, "token.revoke", &token);
        Ok(())
    });
    state.verified.forget();
    revoked.map(drop)
}

/// Whether any admin token works now: when none does, start-up says how to make one.
pub fn has_active_admin(state: &AppState) -> Result<bool, Error> {
    let now = state.clock.now();
    Ok(store::tokens(&mut *state.conn()?)?.iter().any(|t| active_admin(t, now)))
}

/// How long a verified token is trusted without reading it again. Tokens issued or revoked by
/// this process take effect at once (the memory is cleared); a revocation made through another
/// replica takes effect within this long.
const TRUST_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Tokens verified in the last [`TRUST_FOR`], so a busy client (Flux polling its render) costs
/// neither a database query nor a cryptographic hash per request.
///
/// Neither the presented text nor its SHA-256 is kept. Each entry is found by a 64-bit keyed
/// hash of the presented text and holds a 128-bit keyed fingerprint of it, computed once when
/// the token was verified against the database; a request matches an entry only when its own
/// fingerprint equals the stored one (compared in constant time). The keys are drawn at random
/// by each process and never leave it, so passing without the token means guessing a 128-bit
/// value online, and the memory of a running process holds nothing a token can be rebuilt from.
pub struct VerifiedTokens {
    keys: std::collections::hash_map::RandomState,
    entries: std::sync::RwLock<std::collections::HashMap<u64, Verified>>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            keys: std::collections::hash_map::RandomState::new(),
            entries: Default::default(),
        }
    }
}

/// A verified token: its fingerprint, principal, expiry, and when it was verified.
struct Verified {
    fingerprint: [u8; 16],
    principal: Principal,
    expires_at: Option<NaiveDateTime>,
    verified: std::time::Instant,
}

/// Most tokens remembered at once; past it the memory starts again.
const VERIFIED_LIMIT: usize = 10_000;

impl VerifiedTokens {
    /// Where an entry sits, and the fingerprint it must hold: three outputs of one keyed hash,
    /// told apart by a leading byte, so each is independent of the others.
    fn locate(&self, presented: &str) -> (u64, [u8; 16]) {
        use std::hash::BuildHasher;
        let part = |domain: u8| self.keys.hash_one((domain, presented));
        let mut fingerprint = [0u8; 16];
        fingerprint[..8].copy_from_slice(&part(1).to_le_bytes());
        fingerprint[8..].copy_from_slice(&part(2).to_le_bytes());
        (part(0), fingerprint)
    }

    /// The principal of a recently verified, unexpired token.
    pub fn get(&self, presented: &str) -> Option<Principal> {
        let (slot, fingerprint) = self.locate(presented);
        let entries = self.entries.read().ok()?;
        let entry = entries.get(&slot)?;
        let live = constant_time_eq(&entry.fingerprint, &fingerprint)
            && entry.verified.elapsed() < TRUST_FOR
            && entry.expires_at.is_none_or(|at| at > Utc::now().naive_utc());
        live.then(|| entry.principal.clone())
    }

    fn remember(&self, presented: &str, principal: &Principal, expires_at: Option<NaiveDateTime>) {
        let (slot, fingerprint) = self.locate(presented);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= VERIFIED_LIMIT {
                entries.clear();
            }
            let entry = Verified {
                fingerprint,
                principal: principal.clone(),
                expires_at,
                verified: std::time::Instant::now(),
            };
            entries.insert(slot, entry);
        }
    }

    /// Forgets every verified token: after any token is issued or revoked here.
    pub fn forget(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

/// Who `presented` (an `Authorization: Bearer` value) is, or `None` for an unknown, malformed,
/// expired or revoked token.
pub fn authenticate(state: &AppState, presented: &str) -> Result<Option<Principal>, Error> {
    if let Some(principal) = state.verified.get(presented) {
        return Ok(Some(principal));
    }
    let found = authenticate_stored(state, presented)?;
    if let Some((principal, expires_at)) = &found {
        state.verified.remember(presented, principal, *expires_at);
    }
    Ok(found.map(|(p, _)| p))
}

fn authenticate_stored(state: &AppState, presented: &str) -> Result<Option<(Principal, Option<NaiveDateTime>)>, Error> {
    let Some((token_id, secret)) = presented.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    if token_id.len() != ID_BYTES * 2 || !token_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut conn = state.conn()?;
    let Some(row) = store::token_by_token_id(&mut conn, token_id)? else {
        return Ok(None);
    };
    if !constant_time_eq(sha256_hex(secret.as_bytes()).as_bytes(), row.secret_sha256.as_bytes()) {
        return Ok(None);
    }
    let now = state.clock.now();
    if row.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    if row.last_used_at.is_none_or(|at| now - at >= LAST_USE_GRANULARITY) {
        // Bookkeeping only: a failure to record it must not refuse the request.
        if let Err(e) = store::touch_token(&mut conn, row.id, now) {
            tracing::warn!(token = %row.name, error = %e, "cannot record the token's last use");
        }
    }
    let expires_at = row.expires_at;
    let token = Token::try_from(row)?;
    Ok(Some((
        Principal {
            name: token.name,
            role: token.role,
            cluster: token.cluster,
        },
        expires_at,
    )))
}

/// On a first start (no tokens at all) issues the `admin` token; returns its text to show once.
pub fn first_admin(state: &AppState) -> Result<Option<String>, Error> {
    let mut conn = state.conn()?;
    if store::token_count(&mut conn)? > 0 {
        return Ok(None);
    }
    drop(conn);
    let caller = Caller::internal("platform-catalog", "first-start");
    let new = NewToken {
        name: TokenName("admin".into()),
        role: Role::Admin,
        cluster: None,
        lifetime: None,
    };
    match create(state, &caller, new) {
        Ok((_, secret)) => Ok(Some(secret)),
        // Another replica starting at the same moment issued it first.
        Err(Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(name: &str) -> Principal {
        Principal {
            name: name.into(),
            role: Role::Cluster,
            cluster: Some("prod-eu-1".into()),
        }
    }

    #[test]
    fn a_verified_token_is_known_by_its_exact_text_only() {
        let verified = VerifiedTokens::default();
        let token = "pcat_0123456789ab_secret";
        verified.remember(token, &principal("flux"), None);
        assert_eq!(verified.get(token), Some(principal("flux")));
        assert_eq!(verified.get("pcat_0123456789ab_secreT"), None);
        assert_eq!(verified.get("pcat_0123456789ab_secret "), None);
        assert_eq!(verified.get(""), None);
    }

    #[test]
    fn a_verified_token_is_forgotten_when_it_expires_or_tokens_change() {
        let verified = VerifiedTokens::default();
        let past = Utc::now().naive_utc() - Duration::seconds(1);
        verified.remember("pcat_expired_x", &principal("old"), Some(past));
        assert_eq!(verified.get("pcat_expired_x"), None);
        verified.remember("pcat_live_x", &principal("live"), None);
        verified.forget();
        assert_eq!(verified.get("pcat_live_x"), None);
    }

    #[test]
    fn each_memory_of_verified_tokens_draws_its_own_keys() {
        let (a, b) = (VerifiedTokens::default(), VerifiedTokens::default());
        assert_ne!(
            a.locate("pcat_0123456789ab_secret"),
            b.locate("pcat_0123456789ab_secret")
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}

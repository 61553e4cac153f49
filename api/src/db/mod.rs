//! Storage: one diesel code path over SQLite (the embedded default) and PostgreSQL.
//!
//! The backend is chosen by the URL scheme, and connections are made by our own `connect` so a
//! wrong password reads as a wrong password (diesel's multi-connection `establish` tries every
//! backend and keeps none of their errors).

pub mod models;
pub mod models_observed;
pub mod registry_rows;
pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::Error;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// How long a SQLite writer waits for the file's write lock before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u64 = 10_000;

/// Opens one connection; SQLite gets WAL, a busy timeout and foreign keys.
pub fn connect(url: &str) -> Result<DbConnection, Error> {
    match Backend::of(url) {
        Backend::Postgres => {
            let mut conn = PgConnection::establish(url).map_err(|e| Error::Connect(redact(url), e.to_string()))?;
            // Stored configs (~16 KB of JSON each, thousands per release) are compressed as they
            // are stored: lz4 does it several times faster than the default pglz. A server
            // built without lz4 refuses the setting and keeps pglz.
            if let Err(e) = conn.batch_execute("SET default_toast_compression = 'lz4'") {
                tracing::debug!(error = %e, "the server keeps its default compression");
            }
            Ok(DbConnection::Postgresql(conn))
        }
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let mut conn =
                SqliteConnection::establish(path).map_err(|e| Error::Connect(path.to_owned(), e.to_string()))?;
            // `synchronous = FULL` syncs the write-ahead log at every commit: an answered write
            // then survives a power loss too, not only a crash of the process (which is all
            // `NORMAL` promises in WAL mode). It costs one fsync per write, not per row.
            // `wal_autocheckpoint = 0`: a commit does not also copy the log into the database
            // file (a fleet-wide release logs ~160 MB; copying it doubled the commit's time);
            // the service's checkpoint task does that between writes (see `checkpoint`), and
            // SQLite does it when the last connection closes.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;"
            ))
            .map_err(|e| Error::Connect(path.to_owned(), e.to_string()))?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Hands out connections made by [`connect`].
pub struct Manager {
    url: String,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = Error;

    fn connect(&self) -> Result<DbConnection, Error> {
        connect(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Error> {
        if R2D2Connection::is_broken(conn) {
            return Err(Error::Internal(
                "a pooled connection was left inside a transaction".into(),
            ));
        }
        conn.batch_execute("SELECT 1").map_err(Error::from)
    }

    /// A connection returned while a thread unwinds, or still inside a transaction (or with its
    /// transaction manager in an error state), is closed instead of reused: reusing it would
    /// turn every later "commit" into a savepoint of a transaction that never ends.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || R2D2Connection::is_broken(conn)
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// A connection pool; fails fast when the database cannot be reached.
pub fn pool(url: &str, size: u32) -> Result<Pool, Error> {
    // Prove the URL works before building the pool, so the real error reaches the user.
    drop(connect(url)?);
    r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(10))
        .build(Manager { url: url.to_owned() })
        .map_err(|e| Error::Connect(redact(url), e.to_string()))
}

/// Runs pending migrations; returns the names of those applied.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, Error> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    };
    applied
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| Error::Migration(e.to_string()))
}

/// Runs `f` in a transaction that first takes the catalog's write lock, so writes are
/// serialised and none is lost: the lock row's update makes SQLite take its write lock before
/// reading anything (waiting out the busy timeout instead of failing on a stale snapshot) and
/// holds a row lock on PostgreSQL across every replica.
///
/// A panic inside `f` is caught inside the transaction and becomes an [`Error::Internal`], so
/// diesel rolls the transaction back and the connection leaves clean; the panic never reaches
/// the pool with a transaction still open.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.transaction(|conn| {
        diesel::update(schema::write_lock::table)
            .set(schema::write_lock::generation.eq(schema::write_lock::generation + 1))
            .execute(conn)?;
        caught(|| f(conn))
    })
}

/// Runs `f`, turning a panic into an [`Error::Internal`]: inside a transaction, so the
/// transaction rolls back like on any error instead of being left open.
pub fn caught<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(Error::Internal(format!(
            "a write panicked and was rolled back: {}",
            panic_message(panic.as_ref())
        )))
    })
}

/// The text a panic carries, when it is text.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Copies what the SQLite write-ahead log holds into the database file, without waiting for
/// readers or writers (a passive checkpoint: frames a reader still needs stay for the next
/// one). Committed writes are durable in the log already; this keeps the log short. A no-op on
/// PostgreSQL, which checkpoints by itself.
pub fn checkpoint(conn: &mut DbConnection) -> Result<(), Error> {
    match conn {
        DbConnection::Sqlite(c) => Ok(c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?),
        DbConnection::Postgresql(_) => Ok(()),
    }
}

/// Whether the database takes a write now: takes the write lock within `wait` and rolls back.
/// `/readyz` asks this, so a locked or read-only database reads as not ready.
pub fn probe_write(conn: &mut DbConnection, wait: Duration) -> Result<(), Error> {
    let millis = wait.as_millis().min(60_000);
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute(&format!("PRAGMA busy_timeout = {millis}"))?,
        DbConnection::Postgresql(_) => {}
    }
    let probed = conn.transaction(|conn| {
        if let DbConnection::Postgresql(c) = conn {
            c.batch_execute(&format!("SET LOCAL lock_timeout = {millis}"))?;
        }
        diesel::update(schema::write_lock::table)
            .set(schema::write_lock::generation.eq(schema::write_lock::generation))
            .execute(conn)?;
        Err::<(), _>(Error::RolledBack)
    });
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))?;
    }
    match probed {
        Err(Error::RolledBack) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

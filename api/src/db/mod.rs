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
use diesel::r2d2::{self, ManageConnection};
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

/// Opens one connection; SQLite gets WAL, a busy timeout and foreign keys.
pub fn connect(url: &str) -> Result<DbConnection, Error> {
    match Backend::of(url) {
        Backend::Postgres => PgConnection::establish(url)
            .map(DbConnection::Postgresql)
            .map_err(|e| Error::Connect(redact(url), e.to_string())),
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let mut conn =
                SqliteConnection::establish(path).map_err(|e| Error::Connect(path.to_owned(), e.to_string()))?;
            conn.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
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
        conn.batch_execute("SELECT 1").map_err(Error::from)
    }

    fn has_broken(&self, _: &mut DbConnection) -> bool {
        false
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
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        diesel::update(schema::write_lock::table)
            .set(schema::write_lock::generation.eq(schema::write_lock::generation + 1))
            .execute(conn)?;
        f(conn)
    })
}

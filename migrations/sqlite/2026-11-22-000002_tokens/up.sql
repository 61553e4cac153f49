-- API tokens. A token is `pcat_<token_id>_<secret>`: the id is public and finds the row; only
-- the SHA-256 of the secret is kept, so the database never holds a usable token.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    token_id TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL,
    role TEXT NOT NULL,
    cluster TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);

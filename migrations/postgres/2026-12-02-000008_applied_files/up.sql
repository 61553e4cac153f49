-- What start-up files (`--catalog`, `--tags`, `--clusters`) were last seeded or applied: a
-- start with the same file again changes nothing, even after the API moved the database on.
CREATE TABLE applied_files (
    kind TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
);

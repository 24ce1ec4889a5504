-- The web console's sessions: who is signed in to the pages served at `/`. Not a read model:
-- nothing here is derived from the log, so rebuilding leaves it alone and the analysts' role
-- cannot read it.
CREATE SCHEMA console;

CREATE TABLE console.sessions (
    -- SHA-256 of the cookie's random value, in hex: the cookie itself is kept nowhere.
    id_hash      text        PRIMARY KEY,
    -- The API token signed in with, as its hash (as `read.operator_tokens` keeps it): every page
    -- checks it again, so a revoked token ends its sessions.
    token_hash   text        NOT NULL,
    -- What every form of the session carries back (double submit against cross-site requests).
    csrf         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- Moved on by each page, up to a bound from `created_at`.
    expires_at   timestamptz NOT NULL,
    -- What the last action said, shown once by the next page: {"kind", "text", "mutation",
    -- "field", "code"}. Never holds what was typed into a form.
    flash        jsonb
);

CREATE INDEX sessions_token ON console.sessions (token_hash);
CREATE INDEX sessions_expiry ON console.sessions (expires_at);

-- Read model of operators and their tokens (projection `operators`).
CREATE TABLE read.operators (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    display_name  text        NOT NULL,
    superuser     boolean     NOT NULL,
    -- A service principal (the platform reporting usage), not a person.
    service       boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    last_position bigint      NOT NULL
);

-- Only the SHA-256 of a token is kept; the token itself is shown once, when issued.
CREATE TABLE read.operator_tokens (
    token_id    uuid        PRIMARY KEY,
    operator_id uuid        NOT NULL REFERENCES read.operators (id),
    token_hash  text        NOT NULL UNIQUE,
    label       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE INDEX operator_tokens_by_operator ON read.operator_tokens (operator_id);

-- AI configuration (projection `ai_settings`): the platform's providers and each account's
-- overrides of their models and parameters; and the data keys that encrypt API keys.

-- The platform's providers as the integration settings leave them. A key is shown only as
-- set or not, its last four characters and when it was set: the ciphertext stays in the log.
CREATE TABLE read.ai_providers (
    provider      text        PRIMARY KEY CHECK (provider IN ('openai', 'dalle', 'anthropic', 'runware')),
    enabled       boolean     NOT NULL,
    settings      jsonb       NOT NULL,
    key_last4     text,
    key_set_at    timestamptz,
    key_set_by    text,
    updated_at    timestamptz NOT NULL,
    last_position bigint      NOT NULL
);

-- An account's overrides of one provider's settings; no row: none. Whether they apply is the
-- account's plan's to say, when they are read.
CREATE TABLE read.ai_overrides (
    account_id    uuid        NOT NULL,
    provider      text        NOT NULL CHECK (provider IN ('openai', 'dalle', 'anthropic', 'runware')),
    settings      jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL,
    updated_by    text        NOT NULL,
    last_position bigint      NOT NULL,
    PRIMARY KEY (account_id, provider)
);

-- Data keys, each wrapped (encrypted) under the master key named by its fingerprint. Not a
-- read model and never rebuilt: a deleted row is a secret destroyed for good.
CREATE SCHEMA IF NOT EXISTS secrets;
CREATE TABLE secrets.data_keys (
    id         uuid        PRIMARY KEY,
    wrapped    bytea       NOT NULL,
    master_key text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

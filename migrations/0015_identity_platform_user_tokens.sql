-- Bearer tokens of platform users (projection `platform_users`): each acts as its user, within
-- the user's account and role. Only the SHA-256 of a token is kept.
CREATE TABLE read.platform_user_tokens (
    token_id   uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    account_id uuid        NOT NULL,
    token_hash text        NOT NULL UNIQUE,
    label      text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX platform_user_tokens_by_user ON read.platform_user_tokens (user_id);

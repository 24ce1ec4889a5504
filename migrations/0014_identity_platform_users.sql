-- The people of tenant accounts (projection `platform_users`), one row per person: the users
-- list and its filters (account, role, status, verified, date joined, search).
CREATE TABLE read.platform_users (
    id                          uuid        PRIMARY KEY,
    account_id                  uuid        NOT NULL,
    email                       text        NOT NULL UNIQUE,
    name                        text        NOT NULL,
    role                        text        NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    status                      text        NOT NULL CHECK (status IN ('invited', 'active', 'inactive')),
    email_verified              boolean     NOT NULL,
    deleted                     boolean     NOT NULL,
    joined_at                   timestamptz NOT NULL,
    password_reset_requested_at timestamptz,
    last_position               bigint      NOT NULL
);
CREATE INDEX platform_users_by_account ON read.platform_users (account_id, joined_at, id);
CREATE INDEX platform_users_by_joined ON read.platform_users (joined_at, id);

-- Author profiles and content strategies (projection `templates`): the platform's library
-- (no account) and accounts' own templates, clones remembering what they copied.

CREATE TABLE read.templates (
    id                  uuid        PRIMARY KEY,
    kind                text        NOT NULL CHECK (kind IN ('author_profile', 'strategy')),
    -- Null: the platform's library.
    account_id          uuid,
    name                text        NOT NULL,
    description         text        NOT NULL,
    category            text        NOT NULL CHECK (category IN ('saas', 'ecommerce', 'blog', 'technical', 'creative', 'general')),
    -- The kind's own fields (tone, language, structure; prompt types, sections).
    details             jsonb       NOT NULL,
    version             integer     NOT NULL CHECK (version >= 1),
    active              boolean     NOT NULL,
    deleted             boolean     NOT NULL,
    cloned_from_id      uuid,
    cloned_from_version integer,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_position       bigint      NOT NULL
);
CREATE INDEX templates_by_owner ON read.templates (kind, account_id, name, id);

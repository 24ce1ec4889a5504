-- The prompt library (projection `prompts`): each global prompt with every version of its
-- text, and each account's customized prompts.

CREATE TABLE read.prompts (
    id                uuid        PRIMARY KEY,
    prompt_type       text        NOT NULL UNIQUE,
    description       text        NOT NULL,
    -- The variables every version's text keeps (`keyword` for `{keyword}`), a JSON array.
    variables         jsonb       NOT NULL,
    published_version integer     NOT NULL CHECK (published_version >= 1),
    latest_version    integer     NOT NULL CHECK (latest_version >= published_version),
    active            boolean     NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_position     bigint      NOT NULL
);

CREATE TABLE read.prompt_versions (
    prompt_id  uuid        NOT NULL REFERENCES read.prompts (id),
    version    integer     NOT NULL CHECK (version >= 1),
    text       text        NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

-- An account's customization of a prompt type; no row: it follows the published version.
CREATE TABLE read.account_prompts (
    account_id       uuid        NOT NULL,
    prompt_type      text        NOT NULL,
    text             text        NOT NULL,
    based_on_version integer     NOT NULL,
    customized_at    timestamptz NOT NULL,
    customized_by    text        NOT NULL,
    last_position    bigint      NOT NULL,
    PRIMARY KEY (account_id, prompt_type)
);
CREATE INDEX account_prompts_by_type ON read.account_prompts (prompt_type, account_id);

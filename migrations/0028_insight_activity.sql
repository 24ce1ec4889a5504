-- Platform activity (projection `activity`): what the platform reported happening in each
-- account, summed by day for the dashboard and the reports. Every figure is a sum or a count of
-- `ActivityRecorded` events; days are business days (the record's `occurred_at`, UTC).

-- Records per day, account, kind, tag and status. What tag and status hold, by kind:
--   content         tag: content type   status: content status (draft, review, published, failed)
--   task            tag: task type      status: task status (pending, running, completed, failed)
--   automation_run  tag: automation     status: run status (started, succeeded, failed)
--   sync, publish   tag: target site    status: succeeded or failed
--   ai_call         tag: provider       status: succeeded or failed (tokens and cost: ai_usage_daily)
-- People's activity is counted in user_activity_days instead.
CREATE TABLE read.activity_daily (
    day         date   NOT NULL,
    account_id  uuid   NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('content', 'task', 'automation_run', 'sync',
                                                'publish', 'ai_call')),
    tag         text   NOT NULL,
    status      text   NOT NULL,
    -- How many records.
    records     bigint NOT NULL,
    -- Words of content records (0 for other kinds).
    words       bigint NOT NULL,
    -- Summed durations of the records that reported one, and how many did.
    duration_ms bigint NOT NULL,
    timed       bigint NOT NULL,
    PRIMARY KEY (day, account_id, kind, tag, status)
);
CREATE INDEX activity_daily_by_account ON read.activity_daily (account_id, day);
CREATE INDEX activity_daily_by_kind ON read.activity_daily (kind, day);

-- AI calls per day, account, provider, model, operation and cost currency.
CREATE TABLE read.ai_usage_daily (
    day           date   NOT NULL,
    account_id    uuid   NOT NULL,
    provider      text   NOT NULL CHECK (provider IN ('openai', 'dalle', 'anthropic', 'runware')),
    model         text   NOT NULL,
    operation     text   NOT NULL,
    currency      text   NOT NULL,
    calls         bigint NOT NULL,
    failed_calls  bigint NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    -- What the calls cost the platform, in the currency's minor units.
    cost_minor    bigint NOT NULL,
    duration_ms   bigint NOT NULL,
    PRIMARY KEY (day, account_id, provider, model, operation, currency)
);
CREATE INDEX ai_usage_daily_by_account ON read.ai_usage_daily (account_id, day);

-- The latest status of each content item, task and automation run the platform reported
-- (latest by business time; a record arriving late does not undo a newer one), for figures
-- such as tasks pending or automations running now.
CREATE TABLE read.activity_items (
    kind        text        NOT NULL CHECK (kind IN ('content', 'task', 'automation_run')),
    -- The platform's id of the content item, task or run.
    item_id     text        NOT NULL,
    account_id  uuid        NOT NULL,
    tag         text        NOT NULL,
    status      text        NOT NULL,
    -- Words, for content.
    words       bigint      NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (kind, item_id)
);
CREATE INDEX activity_items_by_status ON read.activity_items (kind, status);
CREATE INDEX activity_items_by_account ON read.activity_items (account_id, kind);

-- The days each person of an account was seen (signed in or active): DAU, WAU and MAU are
-- counts of distinct people over these.
CREATE TABLE read.user_activity_days (
    day        date NOT NULL,
    account_id uuid NOT NULL,
    user_id    text NOT NULL,
    logins     bigint NOT NULL,
    PRIMARY KEY (day, account_id, user_id)
);
CREATE INDEX user_activity_days_by_account ON read.user_activity_days (account_id, day);

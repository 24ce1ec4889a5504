-- Read models of accounts, their credit ledger, manual payments, and the audit trail.
-- Each table is owned by one projection (named in its comment) and rebuilt from the log by it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Projection `accounts`: one row per account, shaped for the account list and its filters.
CREATE TABLE read.accounts (
    id               uuid        PRIMARY KEY,
    name             text        NOT NULL,
    slug             text        NOT NULL UNIQUE,
    owner_email      text        NOT NULL,
    plan             text        NOT NULL,
    -- active | suspended | deleted (soft: the account can be restored)
    status           text        NOT NULL,
    balance          bigint      NOT NULL CHECK (balance >= 0),
    created_at       timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL,
    last_position    bigint      NOT NULL
);

CREATE INDEX accounts_status ON read.accounts (status, created_at, id);
CREATE INDEX accounts_plan ON read.accounts (plan, created_at, id);
CREATE INDEX accounts_created ON read.accounts (created_at, id);
CREATE INDEX accounts_balance ON read.accounts (balance, id);
CREATE INDEX accounts_name ON read.accounts (lower(name), id);
-- Substring search over name, slug and owner.
CREATE INDEX accounts_search ON read.accounts
    USING gin ((name || ' ' || slug || ' ' || owner_email) gin_trgm_ops);

-- Projection `credit_ledger`: every change of a balance, with the balance after it.
CREATE TABLE read.credit_ledger (
    position      bigint      PRIMARY KEY,
    account_id    uuid        NOT NULL,
    -- adjustment | purchase | consumption | refund
    kind          text        NOT NULL,
    amount        bigint      NOT NULL,
    balance_after bigint      NOT NULL CHECK (balance_after >= 0),
    reason        text,
    actor_id      text        NOT NULL,
    actor_kind    text        NOT NULL,
    payment_id    uuid,
    operation     text,
    model         text,
    units         bigint,
    -- refunds only: credits already spent that could not be taken back
    shortfall     bigint,
    occurred_at   timestamptz NOT NULL
);

CREATE INDEX credit_ledger_account ON read.credit_ledger (account_id, occurred_at, position);
CREATE INDEX credit_ledger_kind ON read.credit_ledger (kind, occurred_at, position);
CREATE INDEX credit_ledger_time ON read.credit_ledger (occurred_at, position);

-- Projection `payments`: the approval queue and its history.
CREATE TABLE read.payments (
    id              uuid        PRIMARY KEY,
    account_id      uuid        NOT NULL,
    amount_minor    bigint      NOT NULL,
    currency        text        NOT NULL,
    credits         bigint      NOT NULL,
    method          text        NOT NULL,
    reference       text,
    note            text,
    -- pending | approved | rejected | refunded
    status          text        NOT NULL,
    recorded_by     text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    approved_by     text,
    approved_at     timestamptz,
    rejected_reason text,
    refund_reason   text,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);

CREATE INDEX payments_status ON read.payments (status, recorded_at, id);
CREATE INDEX payments_method ON read.payments (method, recorded_at, id);
CREATE INDEX payments_account ON read.payments (account_id, recorded_at, id);
CREATE INDEX payments_time ON read.payments (recorded_at, id);

-- Projection `audit_log`: one row per event, secrets redacted from the payload.
CREATE TABLE read.audit_log (
    position       bigint      PRIMARY KEY,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    actor_id       text        NOT NULL,
    actor_kind     text        NOT NULL,
    action         text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    account_id     uuid,
    reason         text,
    request_id     text,
    correlation_id text,
    payload        jsonb       NOT NULL
);

CREATE INDEX audit_log_time ON read.audit_log (occurred_at, position);
CREATE INDEX audit_log_actor ON read.audit_log (actor_id, occurred_at, position);
CREATE INDEX audit_log_action ON read.audit_log (action, occurred_at, position);
CREATE INDEX audit_log_aggregate ON read.audit_log (aggregate_type, aggregate_id, position);
CREATE INDEX audit_log_account ON read.audit_log (account_id, occurred_at, position);

-- Process managers record here what they could not do (e.g. a grant to a deleted account),
-- so a person can act on it; they then move on rather than stall the whole log.
CREATE TABLE read.process_issues (
    handler     text        NOT NULL,
    position    bigint      NOT NULL,
    code        text        NOT NULL,
    message     text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, position)
);

-- Subscriptions (projection `subscriptions`): one row per account's subscription, with the plan
-- version it is on, its current period and status, and what is scheduled at the period's end
-- (a downgrade, a cancellation). Indexed for the list's filters: status, plan, renewal date,
-- account.
CREATE TABLE read.subscriptions (
    id                     uuid        PRIMARY KEY,
    account_id             uuid        NOT NULL UNIQUE,
    plan_id                uuid        NOT NULL,
    plan_code              text        NOT NULL,
    plan_version           integer     NOT NULL,
    plan_name              text        NOT NULL,
    price_minor            bigint      NOT NULL,
    currency               text        NOT NULL,
    included_credits       bigint      NOT NULL,
    status                 text        NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'cancelled', 'expired')),
    period_start           timestamptz NOT NULL,
    period_end             timestamptz NOT NULL,
    -- Set when a cancellation at the period's end is scheduled, with its reason.
    cancels_at_period_end  boolean     NOT NULL DEFAULT false,
    cancel_reason          text,
    -- The plan (code and version) a scheduled downgrade moves to at the period's end.
    downgrade_plan_code    text,
    downgrade_plan_version integer,
    started_at             timestamptz NOT NULL,
    ended_at               timestamptz,
    updated_at             timestamptz NOT NULL,
    last_position          bigint      NOT NULL
);
CREATE INDEX subscriptions_by_status ON read.subscriptions (status, period_end, id);
CREATE INDEX subscriptions_by_plan ON read.subscriptions (plan_code, period_end, id);
CREATE INDEX subscriptions_by_period_end ON read.subscriptions (period_end, id);

-- Two ledger kinds for subscriptions: a period's included credits, and their expiry.
ALTER TABLE read.credit_ledger
    DROP CONSTRAINT credit_ledger_kind_check,
    ADD CONSTRAINT credit_ledger_kind_check
        CHECK (kind IN ('adjustment', 'purchase', 'consumption', 'refund', 'included', 'expiry'));

-- Alert rules and alerts (projection `alerts`). A rule is a condition with thresholds that the
-- alert evaluator checks every half minute or so; an alert is what a rule found about one
-- subject, raised, acknowledged, snoozed and resolved as events.

-- The rules, as superusers define them.
CREATE TABLE read.alert_rules (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    -- The condition's kind; its thresholds are in `condition`.
    kind          text        NOT NULL CHECK (kind IN ('pending_payments', 'low_credits',
                                                       'failure_rate', 'ai_error_rate',
                                                       'projection_lag', 'overdue_invoices')),
    -- The condition as JSON: `kind` and its thresholds, e.g. {"kind": "pending_payments", "days": 2}.
    condition     jsonb       NOT NULL,
    severity      text        NOT NULL CHECK (severity IN ('warning', 'critical')),
    enabled       boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_position bigint      NOT NULL
);

-- One row per rule and subject, showing its latest episode (raised, then resolved, perhaps
-- raised again).
CREATE TABLE read.alerts (
    -- `<rule id>:<subject>`.
    id              text             PRIMARY KEY,
    rule_id         uuid             NOT NULL,
    -- What the alert is about: `all` (the platform), an account id or a projection's name.
    subject         text             NOT NULL,
    -- The account the alert is about, when it is about one.
    account_id      uuid,
    severity        text             NOT NULL CHECK (severity IN ('warning', 'critical')),
    -- open from raised to resolved.
    status          text             NOT NULL CHECK (status IN ('open', 'resolved')),
    -- What the rule measured when it fired (a count, a number of days or seconds, a percentage).
    value           double precision NOT NULL,
    message         text             NOT NULL,
    raised_at       timestamptz      NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    acknowledge_note text,
    -- Hidden from those watching until then (while open).
    snoozed_until   timestamptz,
    snoozed_by      text,
    resolved_at     timestamptz,
    resolve_message text,
    -- How many times it has been raised.
    episodes        integer          NOT NULL,
    last_position   bigint           NOT NULL
);
CREATE INDEX alerts_by_status ON read.alerts (status, raised_at DESC, id);
CREATE INDEX alerts_by_rule ON read.alerts (rule_id, status);
CREATE INDEX alerts_by_position ON read.alerts (last_position);

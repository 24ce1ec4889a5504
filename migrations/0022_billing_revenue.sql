-- Revenue facts (projection `revenue`): money received and refunded, summed by the day it
-- happened (business time, UTC), the plan the account was on, the payment method and the
-- currency. Facts, not guesses: every figure is a sum of approved or refunded payments, so a
-- report adds them up and an auditor folds the same events to the same sums.
CREATE TABLE read.revenue_facts (
    day            date    NOT NULL,
    -- The account's plan when the money came in: its subscription's plan code, else its tier.
    plan_code      text    NOT NULL,
    method         text    NOT NULL CHECK (method IN ('wire', 'check', 'cash', 'other')),
    currency       text    NOT NULL,
    paid_minor     bigint  NOT NULL DEFAULT 0,
    payments       integer NOT NULL DEFAULT 0,
    refunded_minor bigint  NOT NULL DEFAULT 0,
    refunds        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, plan_code, method, currency)
);
CREATE INDEX revenue_facts_by_plan ON read.revenue_facts (plan_code, day);

-- What the facts are attributed by, kept by the same projection: each account's plan as the
-- log goes, and each payment's method and (once approved) the plan it was counted under, so a
-- refund is taken off the plan that was credited.
CREATE TABLE read.revenue_account_plans (
    account_id uuid PRIMARY KEY,
    plan_code  text NOT NULL
);
CREATE TABLE read.revenue_payments (
    payment_id uuid PRIMARY KEY,
    method     text NOT NULL,
    plan_code  text
);

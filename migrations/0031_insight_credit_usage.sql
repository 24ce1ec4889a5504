-- Credit usage (projection `credit_usage`): the credits the platform consumed, summed by
-- business day (UTC), account, operation and model, for the usage report and its top
-- consumers. Every figure is a sum of `CreditsConsumed` events.
CREATE TABLE read.credit_usage_daily (
    day        date   NOT NULL,
    account_id uuid   NOT NULL,
    -- What the credits were spent on, e.g. `content_generation`.
    operation  text   NOT NULL,
    -- The AI model the operation used; '' when the platform named none.
    model      text   NOT NULL,
    credits    bigint NOT NULL,
    -- The units the operation was priced by (e.g. images, thousands of words).
    units      bigint NOT NULL,
    -- How many consumptions.
    uses       bigint NOT NULL,
    PRIMARY KEY (day, account_id, operation, model)
);
CREATE INDEX credit_usage_daily_by_account ON read.credit_usage_daily (account_id, day);

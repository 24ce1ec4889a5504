-- The platform's daily figures (projection `daily_metrics`): one value per metric, business
-- day (UTC) and, for money, currency ('' for counts). Each metric's definition is written
-- beside it in domain/src/insight/metric.rs. Small by design (a few dozen rows a day, whatever
-- the log's size), so the dashboard and its charts sum it in well under a millisecond.
CREATE TABLE read.daily_metrics (
    metric   text   NOT NULL CHECK (metric IN (
        'accounts_opened', 'credits_granted', 'credits_deducted', 'credits_purchased',
        'credits_consumed', 'credits_refunded', 'credits_expired', 'ai_calls', 'ai_calls_failed',
        'ai_input_tokens', 'ai_output_tokens', 'ai_cost', 'content_records', 'words_published',
        'automations_succeeded', 'automations_failed', 'syncs_succeeded', 'syncs_failed',
        'publishes_succeeded', 'publishes_failed', 'logins', 'revenue_paid', 'revenue_refunded')),
    day      date   NOT NULL,
    currency text   NOT NULL DEFAULT '',
    value    bigint NOT NULL,
    PRIMARY KEY (metric, day, currency)
);

-- Account health: a score and a status per account (deleted ones aside), from four signals read
-- from the other read models when the view is read (days are business days, UTC, today
-- included). Each signal that fires takes its penalty from 100 and adds a reason:
--   runway    credits last fewer than 7 days at the last 30 days' burn: 60; fewer than 30: 35
--   payment   an invoice pending more than 30 days past due: 60; any pending past due: 35
--   failures  of 5 or more automation runs, syncs and publishes finished in the last 7 days,
--             half or more failed: 60; a fifth or more: 35
--   activity  of 5 or more person-days of activity in the 14 days before the last 14, none in
--             the last 14: 60; half as many or fewer: 35
-- The status follows the score: healthy from 70, at_risk from 50, critical below. So one serious
-- signal, or two warnings, make an account critical. A view, not a table: the signals move with
-- the calendar as much as with events, and every figure is one the read models already hold.
CREATE VIEW read.account_health (
    account_id,       -- The account.
    score,            -- 100 less the penalties of the signals that fire, at least 0.
    status,           -- healthy (score 70 and above), at_risk (50 to 69) or critical (below 50).
    balance,          -- The account's credits now.
    burn_per_day,     -- Credits consumed per day over the last 30 days.
    runway_days,      -- Whole days the balance lasts at that burn; null when nothing was consumed.
    overdue_invoices, -- Invoices pending past their due time.
    overdue_days,     -- Whole days the oldest of them is past due; null when none is.
    failed_runs,      -- Automation runs, syncs and publishes that failed in the last 7 days,
    finished_runs,    -- of this many that finished (succeeded or failed).
    active_recent,    -- Person-days of activity (sign-ins, active days) in the last 14 days,
    active_before,    -- and in the 14 days before them.
    -- The signals that fired, worst first: [{signal, severity (critical for a penalty of 60,
    -- else warning), penalty, message}].
    reasons
) AS
WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day, now() AS at)
SELECT a.id,
       greatest(0, 100 - p.runway - p.payment - p.failures - p.activity),
       CASE WHEN 100 - p.runway - p.payment - p.failures - p.activity >= 70 THEN 'healthy'
            WHEN 100 - p.runway - p.payment - p.failures - p.activity >= 50 THEN 'at_risk'
            ELSE 'critical' END,
       a.balance,
       round(used.credits / 30.0, 2)::double precision,
       d.runway_days,
       inv.overdue,
       d.overdue_days,
       runs.failed,
       runs.finished,
       people.recent,
       people.before,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'signal', r.signal,
                    'severity', CASE WHEN r.penalty >= 60 THEN 'critical' ELSE 'warning' END,
                    'penalty', r.penalty,
                    'message', r.message) ORDER BY r.penalty DESC, r.signal), '[]'::jsonb)
        FROM (VALUES
            ('runway', p.runway,
             format('credits run out in about %s days at the last 30 days'' burn of %s a day',
                    d.runway_days, round(used.credits / 30.0, 2))),
            ('payment', p.payment,
             format('%s invoice(s) pending past due, the oldest by %s days',
                    inv.overdue, d.overdue_days)),
            ('failures', p.failures,
             format('%s of %s automation runs, syncs and publishes failed in the last 7 days',
                    runs.failed, runs.finished)),
            ('activity', p.activity,
             format('%s person-days of activity in the last 14 days, against %s in the 14 before',
                    people.recent, people.before))
        ) AS r(signal, penalty, message)
        WHERE r.penalty > 0)
FROM read.accounts a
CROSS JOIN today
CROSS JOIN LATERAL (
    SELECT coalesce(sum(u.credits), 0)::bigint AS credits FROM read.credit_usage_daily u
    WHERE u.account_id = a.id AND u.day > today.day - 30 AND u.day <= today.day) used
CROSS JOIN LATERAL (
    SELECT count(*)::bigint AS overdue, min(i.due_at) AS oldest_due FROM read.invoices i
    WHERE i.account_id = a.id AND i.status = 'pending' AND i.due_at < today.at) inv
CROSS JOIN LATERAL (
    SELECT coalesce(sum(x.records) FILTER (WHERE x.status = 'failed'), 0)::bigint AS failed,
           coalesce(sum(x.records), 0)::bigint AS finished
    FROM read.activity_daily x
    WHERE x.account_id = a.id AND x.day > today.day - 7 AND x.day <= today.day
      AND x.kind IN ('automation_run', 'sync', 'publish') AND x.status IN ('succeeded', 'failed')) runs
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE v.day > today.day - 14)::bigint AS recent,
           count(*) FILTER (WHERE v.day <= today.day - 14)::bigint AS before
    FROM read.user_activity_days v
    WHERE v.account_id = a.id AND v.day > today.day - 28 AND v.day <= today.day) people
CROSS JOIN LATERAL (
    SELECT CASE WHEN used.credits > 0
                THEN floor(greatest(a.balance, 0) / (used.credits / 30.0))::bigint END AS runway_days,
           floor(extract(epoch FROM today.at - inv.oldest_due) / 86400)::bigint AS overdue_days) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.runway_days < 7 THEN 60 WHEN d.runway_days < 30 THEN 35 ELSE 0 END AS runway,
           CASE WHEN d.overdue_days > 30 THEN 60 WHEN inv.overdue > 0 THEN 35 ELSE 0 END AS payment,
           CASE WHEN runs.finished < 5 THEN 0
                WHEN runs.failed * 2 >= runs.finished THEN 60
                WHEN runs.failed * 5 >= runs.finished THEN 35 ELSE 0 END AS failures,
           CASE WHEN people.before < 5 THEN 0
                WHEN people.recent = 0 THEN 60
                WHEN people.recent * 2 <= people.before THEN 35 ELSE 0 END AS activity) p
WHERE a.status <> 'deleted';

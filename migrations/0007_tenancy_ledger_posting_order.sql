-- The credit ledger posts in log order, as a bank does: the running balance (`balance_after`)
-- belongs to posting order, which is the default order; business time (`occurred_at`) is the
-- value date, shown beside the recording time.
ALTER TABLE read.credit_ledger ADD COLUMN recorded_at timestamptz;

-- Lines projected before this migration take their recording time from the log itself.
UPDATE read.credit_ledger l SET recorded_at = e.recorded_at
FROM events e WHERE e.position = l.position;

ALTER TABLE read.credit_ledger ALTER COLUMN recorded_at SET NOT NULL;

-- One account's lines in posting order. (A kind filter in posting order walks the primary key:
-- four kinds, each common, so another index would cost every write more than it saves.)
CREATE INDEX credit_ledger_account_posted ON read.credit_ledger (account_id, position);

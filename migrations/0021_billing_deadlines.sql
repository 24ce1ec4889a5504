-- Deadlines (projection `deadlines`): what the scheduler is to do, and when. Rows are derived
-- from the events alone (a subscription period that starts has an end to act on, and the
-- renewal or expiry that follows replaces or removes it; an issued invoice has its dunning
-- stages, each removed when reached or when the invoice is settled), so a rebuild gives back
-- exactly the pending ones and the scheduler writes nothing here: what it did is in the log.
CREATE TABLE read.deadlines (
    kind          text        NOT NULL CHECK (kind IN ('period_end', 'overdue', 'late_fee', 'suspension')),
    aggregate_id  uuid        NOT NULL,
    due_at        timestamptz NOT NULL,
    last_position bigint      NOT NULL,
    PRIMARY KEY (kind, aggregate_id)
);
CREATE INDEX deadlines_by_due ON read.deadlines (due_at, kind, aggregate_id);

-- How far an unpaid invoice has been chased (its latest dunning stage); null if never.
ALTER TABLE read.invoices ADD COLUMN dunning_stage text
    CHECK (dunning_stage IN ('overdue', 'late_fee', 'suspension'));

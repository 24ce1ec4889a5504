-- Deadlines (projection `deadlines`): what the scheduler is to do, and when. Rows are derived
-- from the events alone (a period that starts has an end to act on; the renewal or expiry
-- that follows replaces or removes it), so a rebuild gives back exactly the pending ones and
-- the scheduler writes nothing here: what it did is in the log.
CREATE TABLE read.deadlines (
    kind          text        NOT NULL CHECK (kind IN ('period_end')),
    aggregate_id  uuid        NOT NULL,
    due_at        timestamptz NOT NULL,
    last_position bigint      NOT NULL,
    PRIMARY KEY (kind, aggregate_id)
);
CREATE INDEX deadlines_by_due ON read.deadlines (due_at, kind, aggregate_id);

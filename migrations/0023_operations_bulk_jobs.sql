-- Bulk jobs (projection `bulk_jobs`): each job's books and every item's result, for a job's
-- page, its progress subscription and the runners looking for work.
CREATE TABLE read.bulk_jobs (
    id            uuid        PRIMARY KEY,
    -- The list the items belong to (`payment`, `account`, …) and the action run on each.
    list          text        NOT NULL,
    action        text        NOT NULL,
    bulk_key      text        NOT NULL,
    reason        text        NOT NULL,
    -- Who started it: the items run as them.
    run_as_id     text        NOT NULL,
    run_as_kind   text        NOT NULL,
    -- The list filter the items were chosen by, when they were not named.
    filter        jsonb,
    total         integer     NOT NULL,
    done          integer     NOT NULL DEFAULT 0,
    no_op         integer     NOT NULL DEFAULT 0,
    refused       integer     NOT NULL DEFAULT 0,
    status        text        NOT NULL
        CONSTRAINT bulk_jobs_status_check CHECK (status IN ('running', 'completed', 'cancelled')),
    started_at    timestamptz NOT NULL,
    -- When it completed or was cancelled.
    ended_at      timestamptz,
    cancel_reason text,
    cancelled_by  text,
    -- The log position of the job's latest event.
    position      bigint      NOT NULL
);
-- Runners find the jobs still running; people list their own, newest first.
CREATE INDEX bulk_jobs_running ON read.bulk_jobs (started_at) WHERE status = 'running';
CREATE INDEX bulk_jobs_by_person ON read.bulk_jobs (run_as_id, started_at DESC, id);

-- One row per item with a result, in the job's order.
CREATE TABLE read.bulk_job_items (
    job_id   uuid    NOT NULL,
    item_index integer NOT NULL,
    item_id  uuid    NOT NULL,
    outcome  text    NOT NULL
        CONSTRAINT bulk_job_items_outcome_check CHECK (outcome IN ('done', 'no_op', 'refused')),
    code     text,
    message  text,
    position bigint,
    replayed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, item_index)
);

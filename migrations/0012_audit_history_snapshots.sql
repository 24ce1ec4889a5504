-- Every aggregate's state at every 1,024th version, so time travel (and a deep history page)
-- folds at most 1,023 events after the nearest one instead of everything before it.
--
-- Derived from the log by the `history_snapshots` handler on the projector engine, like any
-- read model: rebuildable, never written by commands, never a source of truth. A state in a
-- shape this build no longer reads (another `state_version`) is ignored. `occurred_through`
-- is the latest business time of the events folded into it (null when one was unreadable):
-- time travel by business time may start from it only when that is not after the moment.
CREATE TABLE history_snapshots (
    aggregate_type   text        NOT NULL,
    aggregate_id     text        NOT NULL,
    state_version    integer     NOT NULL,
    sequence         bigint      NOT NULL CHECK (sequence >= 1),
    state            jsonb       NOT NULL,
    occurred_through timestamptz,
    PRIMARY KEY (aggregate_type, aggregate_id, state_version, sequence)
);

-- Snapshots of aggregate state, so loading an aggregate with a long history (an account with
-- years of usage) reads one row plus the events after it, not its whole history.
--
-- A snapshot is a cache, never a source of truth: it is written after its events committed,
-- only moves forward, and one that no longer deserializes is ignored (the events are replayed).
-- It is deliberately not cqrs-es' snapshot store, which applies each new event twice in 0.5.
CREATE TABLE aggregate_snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL,
    payload        jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

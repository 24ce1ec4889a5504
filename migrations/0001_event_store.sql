-- The event store: the one source of truth.
--
-- The first seven columns are exactly what postgres-es reads and writes. Every other column has a
-- default, so postgres-es' own INSERT keeps working while we gain:
--   position        a global, gap-tolerant order of appends (identity; never reused);
--   transaction_id  the writing transaction (xid8), which the projector orders by so that an event
--                   committed late is never skipped (see projections/src/log.rs);
--   recorded_at     when the store recorded the row, kept apart from the business time in metadata.
CREATE TABLE events (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence >= 0),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    position       bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    UNIQUE (position)
);

-- The projector's read order.
CREATE INDEX events_log_order ON events (transaction_id, position);

-- Idempotent commands look up their earlier outcome by key.
CREATE INDEX events_idempotency_key ON events ((metadata ->> 'idempotency_key'))
    WHERE metadata ? 'idempotency_key';

-- Append-only, enforced by the database itself: history is never rewritten, not even by us.
CREATE FUNCTION events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Wakes the projectors. One notification per transaction: Postgres folds identical payloads.
CREATE FUNCTION events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('igny8_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_appended
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- Where each projection and process manager has got to in the log. Advanced in the same
-- transaction as the work it records, so nothing is applied twice or skipped.
CREATE TABLE projection_checkpoints (
    name                text        PRIMARY KEY,
    last_transaction_id xid8        NOT NULL DEFAULT '0',
    last_position       bigint      NOT NULL DEFAULT 0,
    events_applied      bigint      NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Read models live in their own schema, so analysts can be granted exactly that.
CREATE SCHEMA read;

-- The advisory-lock key under which a projection or process manager runs.
CREATE FUNCTION projection_lock_key(name text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN hashtextextended('igny8:projection:' || name, 0);

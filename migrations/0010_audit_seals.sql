-- Tamper evidence: every event sealed into a hash chain, in log order, after it commits.
--
-- `seal` = SHA-256 of the previous seal and the digests of the event's fields (see
-- projections/src/audit/seal.rs for the exact bytes); `digests` keeps the first 8 bytes of each
-- field's digest, so `verify` can say which field of a changed row no longer matches. Written
-- by the `sealer` handler in the projector's batch transaction, so the chain advances with its
-- checkpoint and never skips or repeats an event.
CREATE TABLE event_seals (
    chain_index bigint PRIMARY KEY CHECK (chain_index >= 1),
    position    bigint NOT NULL UNIQUE,
    seal        bytea  NOT NULL CHECK (length(seal) = 32),
    digests     bytea  NOT NULL
);

-- The head of the chain now and then, signed with the installation's Ed25519 key, so a
-- rewritten log cannot be resealed unnoticed: the signature covers the index, position, seal
-- and time, and `verify` recomputes the chain from the raw events to each checkpoint.
CREATE TABLE seal_checkpoints (
    chain_index bigint      PRIMARY KEY REFERENCES event_seals (chain_index),
    position    bigint      NOT NULL,
    seal        bytea       NOT NULL CHECK (length(seal) = 32),
    signed_at   timestamptz NOT NULL,
    public_key  bytea       NOT NULL CHECK (length(public_key) = 32),
    signature   bytea       NOT NULL CHECK (length(signature) = 64)
);

-- What the last runs of `verify` found, for the GraphQL status.
CREATE TABLE seal_verifications (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    from_index      bigint      NOT NULL,
    events_checked  bigint      NOT NULL,
    ok              boolean     NOT NULL,
    break_position  bigint,
    break_reason    text
);

-- Seals and checkpoints are evidence: like the events, they are never updated or deleted.
CREATE FUNCTION evidence_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER event_seals_append_only
    BEFORE UPDATE OR DELETE ON event_seals
    FOR EACH ROW EXECUTE FUNCTION evidence_is_append_only();
CREATE TRIGGER event_seals_no_truncate
    BEFORE TRUNCATE ON event_seals
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_is_append_only();
CREATE TRIGGER seal_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON seal_checkpoints
    FOR EACH ROW EXECUTE FUNCTION evidence_is_append_only();
CREATE TRIGGER seal_checkpoints_no_truncate
    BEFORE TRUNCATE ON seal_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION evidence_is_append_only();

-- A handler that cannot apply an event is held at it, visibly: the event's position and type,
-- the cause, and since when. Cleared when the handler's checkpoint next moves.
ALTER TABLE projection_checkpoints
    ADD COLUMN stuck_position   bigint,
    ADD COLUMN stuck_event_type text,
    ADD COLUMN stuck_cause      text,
    ADD COLUMN stuck_since      timestamptz;

-- A snapshot records the version of the aggregate's state shape it was taken at
-- (`StoredAggregate::STATE_VERSION`); a load ignores snapshots of another version and replays the
-- events instead. Snapshots taken before this column existed have version 0 and are replaced on
-- the aggregate's next snapshot.
ALTER TABLE aggregate_snapshots ADD COLUMN state_version integer NOT NULL DEFAULT 0;

-- Operators gain the `service` flag (a service principal: the platform reporting usage).
--
-- This column was first added by editing 0002_operators.sql after it had landed, which made
-- sqlx refuse every database migrated before the edit. 0002 keeps its edited text (what landed
-- last); a database migrated with the first text has its recorded checksum of 0002 repaired at
-- start-up (projections/src/store/db.rs) and gets the column here. `IF NOT EXISTS` because
-- databases migrated with the edited 0002 already have it.
ALTER TABLE read.operators ADD COLUMN IF NOT EXISTS service boolean NOT NULL DEFAULT false;

-- Operators gain the `service` flag (a service principal: the platform reporting usage).
--
-- This column was first added by editing 0002_operators.sql after it had landed, which made
-- sqlx refuse every database migrated before the edit. 0002 is back to what landed first, and
-- the column comes here; `IF NOT EXISTS` because databases migrated with the edited 0002
-- already have it (their recorded checksum of 0002 is repaired at start-up, see
-- projections/src/store/db.rs).
ALTER TABLE read.operators ADD COLUMN IF NOT EXISTS service boolean NOT NULL DEFAULT false;

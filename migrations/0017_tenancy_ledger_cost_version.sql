-- The credit-cost version that priced a consumption (`CreditsConsumed.cost_version`): null on
-- every other line, and on consumptions whose credits the platform stated itself.
ALTER TABLE read.credit_ledger ADD COLUMN cost_version integer;

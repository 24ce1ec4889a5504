-- Columns with a closed set of values accept only that set: the texts of the domain's enums
-- (`as_str`), which a test compares with these lists (tests/tests/api/migrations.rs).
ALTER TABLE read.accounts
    ADD CONSTRAINT accounts_status_check CHECK (status IN ('active', 'suspended', 'deleted')),
    ADD CONSTRAINT accounts_plan_check CHECK (plan IN ('free', 'starter', 'growth', 'scale'));

ALTER TABLE read.payments
    ADD CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'refunded')),
    ADD CONSTRAINT payments_method_check CHECK (method IN ('wire', 'check', 'cash', 'other'));

ALTER TABLE read.credit_ledger
    ADD CONSTRAINT credit_ledger_kind_check
        CHECK (kind IN ('adjustment', 'purchase', 'consumption', 'refund')),
    ADD CONSTRAINT credit_ledger_actor_kind_check
        CHECK (actor_kind IN ('operator', 'account_user', 'service', 'system'));

ALTER TABLE read.audit_log
    ADD CONSTRAINT audit_log_actor_kind_check
        CHECK (actor_kind IN ('operator', 'account_user', 'service', 'system'));

-- The analysts' read-only role: `igny8_analyst` may read every read model (schema `read`) and
-- nothing else: not the event log (payloads), not the snapshots, not the keyring (schema
-- `secrets`), and not the token hashes (the token tables' other columns it may read). Tables
-- added to `read` later are readable too (default privileges). Analysts connect as their own
-- login roles, members of this one (see the README, "For analysts").
--
-- Roles belong to the PostgreSQL cluster, not to one database: the role is created once, and
-- another database migrating beside this one finds it there. A migrating role that may not
-- create roles leaves it to an administrator, with a notice, rather than fail the migration.
DO $$
BEGIN
    BEGIN
        CREATE ROLE igny8_analyst NOLOGIN;
    EXCEPTION
        WHEN duplicate_object THEN NULL;
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'igny8_analyst not created (no CREATEROLE): create it, then grant as in 0030';
            RETURN;
    END;
    GRANT USAGE ON SCHEMA read TO igny8_analyst;
    GRANT SELECT ON ALL TABLES IN SCHEMA read TO igny8_analyst;
    ALTER DEFAULT PRIVILEGES IN SCHEMA read GRANT SELECT ON TABLES TO igny8_analyst;
    REVOKE SELECT ON read.operator_tokens, read.platform_user_tokens FROM igny8_analyst;
    GRANT SELECT (token_id, operator_id, label, created_at, revoked_at)
        ON read.operator_tokens TO igny8_analyst;
    GRANT SELECT (token_id, user_id, account_id, label, created_at, revoked_at)
        ON read.platform_user_tokens TO igny8_analyst;
END
$$;

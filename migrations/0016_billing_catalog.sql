-- The catalogue (projection `catalog`): plans, credit packages and credit costs, each with
-- every version of its terms.
--
-- Plans and their versions. A plan's row says what it is now (code, name,
-- the version in force, active); each version's row holds its complete terms, as the
-- `PlanCreated` / `PlanRevised` event recorded them, so a subscription naming (plan, version)
-- reads what it was sold without folding anything.
CREATE TABLE read.plans (
    id                  uuid        PRIMARY KEY,
    code                text        NOT NULL UNIQUE,
    name                text        NOT NULL,
    current_version     integer     NOT NULL CHECK (current_version >= 1),
    active              boolean     NOT NULL,
    -- The plan and version this one was cloned from; both null for the built-in plans.
    cloned_from_plan    uuid,
    cloned_from_version integer,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_position       bigint      NOT NULL
);

CREATE TABLE read.plan_versions (
    plan_id           uuid        NOT NULL REFERENCES read.plans (id),
    version           integer     NOT NULL CHECK (version >= 1),
    name              text        NOT NULL,
    price_minor       bigint      NOT NULL CHECK (price_minor >= 0),
    currency          text        NOT NULL,
    included_credits  bigint      NOT NULL CHECK (included_credits >= 0),
    max_sites         integer     NOT NULL CHECK (max_sites >= 0),
    max_users         integer     NOT NULL CHECK (max_users >= 1),
    max_keywords      integer     NOT NULL CHECK (max_keywords >= 0),
    monthly_words     integer     NOT NULL CHECK (monthly_words >= 0),
    monthly_images    integer     NOT NULL CHECK (monthly_images >= 0),
    overrides_allowed boolean     NOT NULL,
    -- Business time of the event that made this version, and who made it.
    created_at        timestamptz NOT NULL,
    created_by        text        NOT NULL,
    PRIMARY KEY (plan_id, version)
);

-- Credit packages: the row holds the version in force; each version's terms are kept, since a
-- payment for a package names the version it was recorded against.
CREATE TABLE read.credit_packages (
    id              uuid        PRIMARY KEY,
    name            text        NOT NULL,
    credits         bigint      NOT NULL CHECK (credits > 0),
    price_minor     bigint      NOT NULL CHECK (price_minor > 0),
    currency        text        NOT NULL,
    current_version integer     NOT NULL CHECK (current_version >= 1),
    active          boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);

CREATE TABLE read.credit_package_versions (
    package_id  uuid        NOT NULL REFERENCES read.credit_packages (id),
    version     integer     NOT NULL CHECK (version >= 1),
    name        text        NOT NULL,
    credits     bigint      NOT NULL CHECK (credits > 0),
    price_minor bigint      NOT NULL CHECK (price_minor > 0),
    currency    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    PRIMARY KEY (package_id, version)
);

-- Credit costs: every price of every operation type. The price in force at a moment is the
-- latest version, not withdrawn, effective by then (the index serves exactly that lookup).
CREATE TABLE read.credit_costs (
    operation        text        NOT NULL,
    version          integer     NOT NULL CHECK (version >= 1),
    credits_per_unit bigint      NOT NULL CHECK (credits_per_unit > 0),
    effective_from   timestamptz NOT NULL,
    withdrawn        boolean     NOT NULL,
    created_at       timestamptz NOT NULL,
    created_by       text        NOT NULL,
    PRIMARY KEY (operation, version)
);
CREATE INDEX credit_costs_in_force ON read.credit_costs (operation, effective_from DESC)
    WHERE NOT withdrawn;

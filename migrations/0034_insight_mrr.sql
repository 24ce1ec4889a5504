-- Monthly recurring revenue (projection `mrr`), as defined in `domain/src/insight/mrr.rs`:
-- every change of an account's MRR is a movement, on the day of the subscription event that
-- made it (business time). An account's MRR at any moment is `mrr_after` of its latest
-- movement by then; the executive metrics fold these rows.
CREATE TABLE read.mrr_movements (
    -- The log position of the subscription event.
    position    bigint NOT NULL,
    account_id  uuid   NOT NULL,
    day         date   NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('new', 'reactivation', 'expansion', 'contraction', 'churn')),
    -- The plan paid for after the movement (before it, for a churn).
    plan_code   text   NOT NULL,
    currency    text   NOT NULL,
    mrr_before  bigint NOT NULL,
    mrr_after   bigint NOT NULL,
    -- `mrr_after - mrr_before`, in minor units.
    delta       bigint NOT NULL,
    PRIMARY KEY (position, kind)
);
CREATE INDEX mrr_movements_by_account ON read.mrr_movements (account_id, day, position);
CREATE INDEX mrr_movements_by_day ON read.mrr_movements (day);

-- Each account's MRR now, what its next movement starts from.
CREATE TABLE read.account_mrr (
    account_id  uuid   PRIMARY KEY,
    plan_code   text   NOT NULL,
    currency    text   NOT NULL,
    mrr         bigint NOT NULL,
    -- Whether it ever had MRR above 0 (a return from 0 is then a reactivation, not new).
    paid_before boolean NOT NULL
);

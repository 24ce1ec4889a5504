-- Invoices (projection `invoices`): one row per invoice with its status and figures, and its
-- lines. Issued invoices never change their lines or total; the row's status, payment,
-- reminders and late fees follow the events. Indexed for the invoice list's filters: status,
-- overdue (pending past due), due date, account, amount, number.
CREATE TABLE read.invoices (
    id               uuid        PRIMARY KEY,
    account_id       uuid        NOT NULL,
    -- `INV-2026-000123` once issued; year and sequence sort numbers as numbers.
    number           text        UNIQUE,
    number_year      integer,
    number_sequence  bigint,
    status           text        NOT NULL CHECK (status IN ('draft', 'pending', 'paid', 'cancelled', 'void', 'refunded')),
    currency         text        NOT NULL,
    total_minor      bigint      NOT NULL,
    -- What it bills for: `subscription`, `credit_package`, `late_fee`, or null (manual).
    subject_kind     text,
    subject_id       uuid,
    issued_at        timestamptz,
    due_at           timestamptz,
    paid_at          timestamptz,
    payment_id       uuid,
    reminders_sent   integer     NOT NULL DEFAULT 0,
    last_reminder_on date,
    late_fees        integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_position    bigint      NOT NULL,
    UNIQUE (number_year, number_sequence)
);
CREATE INDEX invoices_by_account ON read.invoices (account_id, created_at, id);
CREATE INDEX invoices_by_status_due ON read.invoices (status, due_at, id);
CREATE INDEX invoices_by_due ON read.invoices (due_at, id);
CREATE INDEX invoices_by_total ON read.invoices (total_minor, id);
CREATE INDEX invoices_by_created ON read.invoices (created_at, id);

CREATE TABLE read.invoice_lines (
    invoice_id       uuid    NOT NULL REFERENCES read.invoices (id),
    line_no          integer NOT NULL,
    kind             text    NOT NULL CHECK (kind IN ('subscription_period', 'proration', 'credit_package', 'late_fee', 'manual')),
    description      text    NOT NULL,
    quantity         bigint  NOT NULL,
    unit_price_minor bigint  NOT NULL,
    amount_minor     bigint  NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);

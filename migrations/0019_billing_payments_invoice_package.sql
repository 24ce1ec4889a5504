-- What a payment pays and buys (`PaymentRecorded.invoice_id`, `.package`): the invoice it
-- pays, and the credit package version it buys; null for payments that name neither.
ALTER TABLE read.payments
    ADD COLUMN invoice_id      uuid,
    ADD COLUMN package_id      uuid,
    ADD COLUMN package_version integer;
CREATE INDEX payments_by_invoice ON read.payments (invoice_id) WHERE invoice_id IS NOT NULL;

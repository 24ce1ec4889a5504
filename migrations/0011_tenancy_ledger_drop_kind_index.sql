-- The ledger's second posting-order index, on (kind, position), created by 0007, goes: a kind
-- filter in posting order walks the primary key (four kinds, each common), so the index cost
-- every ledger write and every rebuild more than it saved (docs/benchmarks/README.md, issue 8).
DROP INDEX IF EXISTS read.credit_ledger_kind_posted;

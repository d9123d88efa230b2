"""Use cases: the only code that writes. Each `do_*` runs inside one write transaction (see
`store.database.Database.write`) and records the events the change causes in the same transaction."""

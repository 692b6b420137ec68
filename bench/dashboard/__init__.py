"""Dashboard benchmark: generate a large synthetic ledger in PostgreSQL and time each page's queries."""

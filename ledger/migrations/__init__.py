"""Alembic migrations of the ledger schema (run with ``yuqing db upgrade``)."""

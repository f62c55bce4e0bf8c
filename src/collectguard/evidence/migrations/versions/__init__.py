"""Alembic revision scripts of the evidence store (one module per revision)."""

"""Alembic migrations of the evidence store, run by `collectguard.evidence.store.open_store`.

No ``alembic.ini``: the store builds the Alembic config in code and hands over its
connection, so the migrations ship as plain package modules.
"""

"""Checking a snapshot or a database: ``validate`` (counts and invariants) and ``report``."""

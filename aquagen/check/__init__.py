"""Checking a snapshot or a database: validation and the report."""

"""aquagen: fast, deterministic test data for AquaMind, as Parquet snapshots loaded with COPY."""

__version__ = "0.1.0"

"""The Parquet store and every table in it: positions, static reports, the ingest manifest,
calls."""

"""Analyses: pure functions on polars frames (geofences, positions preparation, vessel identity,
port calls)."""

"""AIS payloads: field rules and the pyais path, compiled bulk kernels, Arrow frame building."""

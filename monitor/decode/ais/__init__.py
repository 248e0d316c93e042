"""AIS payloads: field rules and the pyais path, payload reading, compiled bulk decoders of
position and static reports, Arrow frame building."""

"""Port calls: the state machine, per-visit aggregates, the detector."""

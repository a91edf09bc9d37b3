"""Offline: bag replay through the node core (same code path as the live node)."""

"""Helpers the tests and benchmarks share (fixtures' data, page walks, servers)."""

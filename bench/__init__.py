"""Benchmarks: speed and what AWS bills, measured (never asserted in tests)."""

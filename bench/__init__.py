"""Benchmarks that print ratios measured in one run (see BENCHMARKS.md)."""

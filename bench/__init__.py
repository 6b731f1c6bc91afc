"""Benchmarks (`make bench`): speed and memory of the served function, measured, never
asserted. Results go to bench/results.json and bench/results.md."""

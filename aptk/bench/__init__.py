"""Benchmarks (`make bench`): every figure a ratio to a reference measured in the same run."""

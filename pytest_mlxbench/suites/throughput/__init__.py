"""Throughput: in-process generation timed through mlx-lm (the test file holds the measurement)."""

"""Throughput: in-process generation timed through mlx-lm (the test file measures; rows.py makes the rows)."""

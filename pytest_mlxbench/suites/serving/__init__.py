"""Serving under load: the concurrency and request-rate sweep (``bench_suites/test_serving.py``)."""

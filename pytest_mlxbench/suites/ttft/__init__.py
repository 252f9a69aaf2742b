"""TTFT: streamed requests through the server (the test file holds the measurement)."""

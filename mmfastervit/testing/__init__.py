"""Helpers for tests and benchmarks that compare with NVIDIA's reference
implementation (``pip install fastervit==1.0.0``, a test-only dependency)."""

"""Measuring our backbones beside others (checkout only, not in the wheel).

- ``harness``: builders of the compared models, timers, peak memory,
  operation counts, the runtimes (ONNX Runtime, compiled);
- ``reference``: NVIDIA's ``fastervit==1.0.0`` (a test-only dependency) run as
  a numerical reference, also by the test suite.

``tools/analysis_tools/benchmark.py`` is the command line over them.
"""

"""Helpers for the test suite and the benchmarks.

- ``reference``: NVIDIA's reference implementation (``pip install
  fastervit==1.0.0``, a test-only dependency) and official-format files;
- ``litv2_official_format``: LITv2 weights written back in the official key
  layout;
- ``train_modes``, ``backbone_checks``: checks every backbone family passes
  (frozen stages, norm eval, checkpointing);
- ``mm_batches``: training batches for real mmdet / mmseg models;
- ``dino``: the DINO configs at the size of a golden detector (``tests/data/dino_golden``);
- ``tool_runs``: running the checkout's tools as subprocesses.
"""

"""Helpers for the test suite (never packaged; importable as ``support``
because pytest puts ``tests/`` on the path for its conftest).

- ``official_files``: a model's weights written back in its family's official key
  layout;
- ``train_modes``, ``backbone_checks``: checks every backbone family passes
  (frozen stages, norm eval, checkpointing);
- ``mm_batches``: training batches for real mmdet / mmseg models;
- ``ddp_steps``: a few DDP training steps on the CPU (gloo);
- ``dino``, ``litv2_released``: the configs at the size of the golden files
  in ``tests/data``;
- ``tool_runs``: running the checkout's tools as subprocesses.

NVIDIA's reference FasterViT wrapper is ``benchmarks.reference`` (the
benchmark uses it too).
"""

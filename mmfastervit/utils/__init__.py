"""Small shared utilities: PyTorch version shims (:mod:`.compat`) and the
benchmark machinery behind ``tools/benchmark.py`` (:mod:`.benchmark`,
imported on demand: it builds reference models)."""

"""Small shared utilities: PyTorch version shims (:mod:`.compat`). The
benchmark machinery lives outside the package, in ``benchmarks/``."""

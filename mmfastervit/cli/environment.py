"""Process-wide settings for the tools, made explicitly (``import
mmfastervit`` only registers modules and extends torch's weights-only
allowlist)."""
from ..checkpoint import register_mmengine_loader
from .library_noise import quiet_library_noise


def setup_env() -> None:
    """What every tool of ours sets before it reads a config: the warnings the
    libraries raise about their own internals are ignored
    (:mod:`.library_noise`), and mmengine reads local checkpoint files through
    :func:`mmfastervit.checkpoint.load_checkpoint_file` (clear errors for
    empty, truncated and non-checkpoint files; objects that are not weights
    kept as inert placeholders). A user's own script may call it too."""
    quiet_library_noise()
    register_mmengine_loader()

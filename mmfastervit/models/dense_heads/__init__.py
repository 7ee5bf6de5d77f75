"""Detection heads that make mmdet's own compute as an official code base does
(imported by the configs that use them, so that `import mmfastervit` needs no
mmdet), and the file format of the released detectors they belong to
(``dino_checkpoint``: plain PyTorch, registered on import)."""
from . import dino_checkpoint  # noqa: F401  (registers NVIDIA's DINO file format)

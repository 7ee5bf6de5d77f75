"""Detection heads that make mmdet's own compute as an official code base does
(imported by the configs that use them, so that `import mmfastervit` needs no
mmdet)."""

"""Warnings the libraries we build on raise about their own internals.

mmengine imports ``pkg_resources`` (setuptools then warns that it is
deprecated, twice), mmdet's mask head copies a tensor the way torch warns
about, its DETR-family layers (DINO) call ``torch.meshgrid`` without the
``indexing`` argument, and mmseg announces its own deprecations and defaults every time its
own configs use them; none says anything a user of this package can act on.
Our tools ignore exactly these messages (:func:`mmfastervit.cli.setup_env`);
every other warning shows.
"""
import warnings

#: (message regex, category, regex of the module that warns)
LIBRARY_WARNINGS = [
    (r'pkg_resources is deprecated', UserWarning, ''),
    (r'To copy construct from a tensor', UserWarning, r'mmdet\.'),
    (r'torch\.meshgrid: in an upcoming release', UserWarning, r'torch\.functional'),
    (r'``build_loss`` would be deprecated', UserWarning, r'mmseg\.'),
    (r'`reduce_zero_label` will be deprecated', UserWarning, r'mmseg\.'),
    (r'Default ``avg_non_ignore`` is False', UserWarning, r'mmseg\.'),
    (r'The draw is False, it means that the hook for visualization', UserWarning, r'mmseg\.'),
]


def quiet_library_noise() -> None:
    for message, category, module in LIBRARY_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)

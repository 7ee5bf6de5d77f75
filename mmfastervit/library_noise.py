"""Warnings the libraries we build on raise about their own internals.

mmengine imports ``pkg_resources`` (setuptools then warns that it is
deprecated, twice) and mmdet's mask head copies a tensor the way torch warns
about; neither says anything a user of this package can act on. Importing
``mmfastervit`` ignores exactly these messages; every other warning shows.
"""
import warnings

#: (message regex, category, regex of the module that warns)
LIBRARY_WARNINGS = [
    (r'pkg_resources is deprecated', UserWarning, ''),
    (r'To copy construct from a tensor', UserWarning, r'mmdet\.'),
]


def quiet_library_noise() -> None:
    for message, category, module in LIBRARY_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)

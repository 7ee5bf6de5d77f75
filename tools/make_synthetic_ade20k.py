"""Moved to tools/dataset_converters/make_synthetic_ade20k.py
(this forwarder goes in the next release)."""
import os.path as osp
import runpy

runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_forward.py'))['forward'](
    __name__, 'dataset_converters/make_synthetic_ade20k.py', globals())

"""Moved to tools/analysis_tools/learning_curve.py; this forwarder goes in the next release."""
import os.path as osp
import runpy

runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_forward.py'))['forward'](
    __name__, 'analysis_tools/learning_curve.py', globals())

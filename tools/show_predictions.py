"""Moved to tools/analysis_tools/show_predictions.py; this forwarder goes in the next release."""
import os.path as osp
import runpy

runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_forward.py'))['forward'](
    __name__, 'analysis_tools/show_predictions.py', globals())

"""Moved to tools/deployment/export_onnx.py; this forwarder goes in the next release."""
import os.path as osp
import runpy

runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_forward.py'))['forward'](
    __name__, 'deployment/export_onnx.py', globals())

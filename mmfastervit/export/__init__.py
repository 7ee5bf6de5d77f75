"""Whole detectors and segmentors to ONNX files that stock ONNX Runtime runs
at any input size (``tools/deployment/export_onnx.py``).

- :mod:`.driver`: config + checkpoint -> graph module -> ONNX file.
- :mod:`.detector`, :mod:`.segmentor`: the traceable inference graphs.
- :mod:`.preprocess`: the data preprocessor in the graph.
- :mod:`.boxes`, :mod:`.onnx_ops`: box arithmetic and the standard ONNX ops
  (NonMaxSuppression, RoiAlign, Resize) it needs.
- :mod:`.postprocess`: NumPy rescaling and mask pasting after a detector.
- :mod:`.verify`: PyTorch against ONNX Runtime (or OpenVINO) on images.
- :mod:`.quantize`: int8 QDQ files for ONNX Runtime.
- :mod:`.ov_runtime`, :mod:`.ov_quantize`: the files in OpenVINO (f32, bf16)
  and its int8 (NNCF).
"""
from .postprocess import detections_to_image, paste_masks

__all__ = ['detections_to_image', 'paste_masks']

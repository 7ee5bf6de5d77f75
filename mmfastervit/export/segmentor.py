"""An mmseg ``EncoderDecoder`` (UPerNet, FCN, ...) with whole-image inference
as one traceable module: image and output size in, class map out.

It is mmseg's ``predict`` for whole images: normalise and pad (in the graph),
backbone, neck, decode head, logits resized to the padded input, padding
cropped off, logits resized to the requested output size (the original
image's, for mmseg's result), then the arg-max over classes (or, for a
one-channel head, the sigmoid above the head's threshold).
"""
from __future__ import annotations

from typing import Tuple

from torch import Tensor, nn

from ..errors import ConfigError
from .onnx_ops import resize_to, spatial_size
from .preprocess import ImageInput

SUPPORTED_SEGMENTORS = ('EncoderDecoder',)


def check_segmentor(model: nn.Module) -> None:
    """Refuse, with the reason, what :class:`SegmentorGraph` cannot export."""
    name = type(model).__name__
    if name not in SUPPORTED_SEGMENTORS:
        raise ConfigError(f'cannot export a {name}: supported segmentors are '
                          f'{", ".join(SUPPORTED_SEGMENTORS)} (e.g. UPerNet, FCN)')
    mode = (model.test_cfg or {}).get('mode', 'whole')
    if mode != 'whole':
        raise ConfigError(f"model.test_cfg.mode is {mode!r}; the ONNX export runs whole-image "
                          "inference: add --cfg-options model.test_cfg.mode=whole")


class SegmentorGraph(nn.Module):
    """``image (B, 3, H, W)`` raw test-pipeline pixels, ``out_size`` int64
    ``(2,)`` (height, width of the map) -> ``seg_map (B, out_h, out_w)`` int64
    class indices."""

    output_names: Tuple[str, ...] = ('seg_map',)

    def __init__(self, model: nn.Module):
        super().__init__()
        check_segmentor(model)
        self.model = model
        self.image_input = ImageInput.from_preprocessor(model.data_preprocessor)

    def forward(self, image: Tensor, out_size: Tensor) -> Tensor:
        x = self.image_input(image)
        head = self.model.decode_head
        logits = head(self.model.extract_feat(x))
        logits = resize_to(logits, spatial_size(x), head.align_corners)
        h, w = spatial_size(image)
        logits = logits[:, :, :h, :w]
        logits = resize_to(logits, out_size, self.model.align_corners)
        if head.out_channels == 1:
            return (logits.sigmoid() > head.threshold).long()[:, 0]
        return logits.argmax(dim=1)

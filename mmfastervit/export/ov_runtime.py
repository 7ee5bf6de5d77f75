"""Our exported files in OpenVINO on the CPU, at a named precision.

OpenVINO compiles an ONNX file as it is (no conversion step). Its default
precision on the CPU is bf16 wherever the CPU has bf16 units (AVX512-BF16 or
AMX) and f32 elsewhere; ``'f32'`` and ``'bf16'`` ask for one. An int8 file is
an OpenVINO model quantized by NNCF (:mod:`.ov_quantize`), compiled at the
default precision for what stays float. :class:`OVSession` answers the few
calls :mod:`.verify` and :mod:`.evaluate` make of an ONNX Runtime session, so
that the same checks run on either runtime.
"""
from __future__ import annotations

import functools
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..errors import ConfigError

#: precisions a user can ask for ('default': OpenVINO's own choice)
PRECISIONS = ('default', 'f32', 'bf16')


@functools.lru_cache(maxsize=1)
def core():
    try:
        import openvino as ov
    except ImportError as e:  # pragma: no cover - the bootstrap installs it
        raise ConfigError('OpenVINO is not installed: pip install openvino (the project pins '
                          'openvino==2026.4.1 in tools/dev/bootstrap.sh)') from e
    return ov.Core()


def short_name(element_type) -> str:
    """``'bf16'`` / ``'f32'`` / ``'f16'`` for an OpenVINO element type."""
    name = str(getattr(element_type, 'get_type_name', lambda: element_type)())
    return {'bfloat16': 'bf16', 'float32': 'f32', 'float16': 'f16'}.get(name, name)


def default_precision() -> str:
    """The float precision OpenVINO picks on this CPU without being told."""
    return short_name(core().get_property('CPU', 'INFERENCE_PRECISION_HINT'))


def has_bf16() -> bool:
    """Whether OpenVINO can run bf16 on this CPU (its optimisation capabilities)."""
    return 'BF16' in core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')


def compile_file(path: str, precision: str = 'default', threads: Optional[int] = None):
    """``path`` (ONNX, or OpenVINO IR .xml) compiled for the CPU at ``precision``
    (:data:`PRECISIONS`), latency mode, ``threads`` inference threads."""
    if precision not in PRECISIONS:
        raise ConfigError(f'OpenVINO precision {precision!r}: choose from {", ".join(PRECISIONS)}')
    if precision == 'bf16' and not has_bf16():
        raise ConfigError('OpenVINO bf16: this CPU has no bf16 units (no AVX512-BF16 or AMX); '
                          'use f32')
    config = {'PERFORMANCE_HINT': 'LATENCY'}
    if precision != 'default':
        config['INFERENCE_PRECISION_HINT'] = precision
    if threads:
        config['INFERENCE_NUM_THREADS'] = int(threads)
    return core().compile_model(path, 'CPU', config)


def compiled_precision(compiled) -> str:
    """The float precision a compiled model runs at, read back from OpenVINO."""
    return short_name(compiled.get_property('INFERENCE_PRECISION_HINT'))


def _metadata(path: str) -> Dict[str, str]:
    """The ONNX file's metadata_props (an IR file written by
    :mod:`.ov_quantize` keeps them in its rt_info, section ``mmfastervit``)."""
    import onnx

    if path.endswith('.xml'):
        ir = core().read_model(path)
        info = ir.get_rt_info()
        if 'mmfastervit' in info:
            return {k: v.astype(str) for k, v in info['mmfastervit'].items()}
        return {}
    model = onnx.load(path, load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


class _Meta:
    def __init__(self, props: Dict[str, str]):
        self.custom_metadata_map = props


class OVSession:
    """An exported file compiled by OpenVINO, with ``run(None, feed)`` and
    ``get_modelmeta()`` as ONNX Runtime's session has them."""

    def __init__(self, path: str, precision: str = 'default', threads: Optional[int] = None):
        if not osp.isfile(path):
            raise ConfigError(f'{path!r} does not exist')
        self.path = path
        self.compiled = compile_file(path, precision, threads)
        self.precision = compiled_precision(self.compiled)
        self.request = self.compiled.create_infer_request()
        self._meta = _Meta(_metadata(path))

    def run(self, output_names, feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        results = self.request.infer(feed)
        return [np.array(results[out]) for out in self.compiled.outputs]

    def get_modelmeta(self) -> _Meta:
        return self._meta

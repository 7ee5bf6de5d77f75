"""int8 static quantization (mmfastervit.export.quantize): which nodes stay
fp32, that the int8 file stays close to the fp32 one at another size, and
the calibration folder's errors."""
import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

from mmfastervit import FasterViT
from mmfastervit.errors import ConfigError
from mmfastervit.export import quantize as Q

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

# carrier tokens in stage 3 (2 x 3 windows at 224 x 288), windows in stage 4
TINY = dict(FasterViT.tiny_arch, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
            hat=(False, False, True, False))


def export(model, path):
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (torch.randn(1, 3, 224, 288),), str(path), dynamo=False,
                          input_names=['x'], output_names=[f'out{i}' for i in range(4)],
                          dynamic_axes={'x': {2: 'height', 3: 'width'}})


def quantized_weights(model):
    """Names of the nodes whose weight input goes through an int8 DequantizeLinear."""
    init = {i.name: i for i in model.graph.initializer}
    dq = {n.output[0] for n in model.graph.node if n.op_type == 'DequantizeLinear'
          and n.input[0] in init and init[n.input[0]].data_type == onnx.TensorProto.INT8}
    return {n.name for n in model.graph.node
            if n.op_type in Q.QUANTIZED_OPS and len(n.input) > 1 and n.input[1] in dq}


def test_int8_keeps_attention_and_carrier_tokens_fp32_and_stays_close(tmp_path):
    torch.manual_seed(0)
    model = FasterViT(TINY).eval()
    fp32, int8 = tmp_path / 'fp32.onnx', tmp_path / 'int8.onnx'
    export(model, fp32)
    rng = np.random.default_rng(0)
    feeds = [{'x': rng.standard_normal((1, 3, 224, 288)).astype(np.float32)} for _ in range(3)]
    info = Q.quantize(str(fp32), str(int8), feeds)

    graph = onnx.load(str(fp32))
    kept = set(Q.float_nodes(graph, tuple(Q.KEEP_FLOAT)))
    attention = {n.name for n in graph.graph.node if n.op_type == 'MatMul'
                 and Q.keeps_float(n, {i.name for i in graph.graph.initializer}, 'attention')}
    assert len(attention) >= 4 and attention <= kept  # Q K^T and A V of both stages
    assert any('/tokenizer/' in k for k in kept) and any('/carrier/' in k for k in kept)
    assert any('/rel_pos/' in k for k in kept)

    quantized = quantized_weights(onnx.load(str(int8)))
    assert quantized and not quantized & kept
    # every projection and MLP of the window path and every conv is int8
    for name in ('/stages.3/blocks.0/local/attn/Gemm', '/stages.3/blocks.0/local/mlp/Gemm_1',
                 '/stages.0/blocks.0/conv1/Conv', '/stem/conv1/Conv'):
        assert name in quantized, sorted(quantized)
    assert info.quantized == len(quantized) and info.kept_float == len(kept)
    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert 'attention, carrier, position' in meta['precision']

    # at a size never calibrated on: close to fp32, far closer than to other weights
    session32, session8 = (ort.InferenceSession(str(p), providers=['CPUExecutionProvider'])
                           for p in (fp32, int8))
    x = {'x': rng.standard_normal((1, 3, 320, 416)).astype(np.float32)}
    for a, b in zip(session8.run(None, x), session32.run(None, x)):
        cosine = float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
        assert cosine > 0.99, cosine

    # quantizing the kept parts too quantizes more layers
    every = Q.quantize(str(fp32), str(tmp_path / 'all.onnx'), feeds, keep=())
    assert every.kept_float == 0 and every.quantized > info.quantized


def test_calibration_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match='is not a folder'):
        Q.calibration_images(str(tmp_path / 'missing'))
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(ConfigError, match='holds no images'):
        Q.calibration_images(str(tmp_path))
    for name in ('b.png', 'a.JPG', 'c.jpg'):
        (tmp_path / name).write_bytes(b'')
    assert [p[-5:] for p in Q.calibration_images(str(tmp_path), 2)] == ['a.JPG', 'b.png']
    with pytest.raises(ValueError, match='choose from attention'):
        Q.float_nodes(onnx.ModelProto(), ('softmax',))


def test_shared_weights_are_inlined_so_that_onnx_runtime_fuses_int8_convs(tmp_path):
    """The exporter stores equal parameters once (a fresh model's zero biases)
    behind Identity nodes; driver.inline_shared_initializers gives each user
    its copy, the outputs stay the same, and ONNX Runtime then runs every
    int8 conv as an integer conv (QLinearConv) instead of a float Conv on
    weights dequantized at each call."""
    from mmfastervit.export.driver import inline_shared_initializers

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 8, 3, padding=1)).eval()
    for conv in net[::2]:
        torch.nn.init.zeros_(conv.bias)
    path, inlined = tmp_path / 'net.onnx', tmp_path / 'inlined.onnx'
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), str(path), dynamo=False,
                          input_names=['x'], output_names=['y'])
    model = onnx.load(str(path))
    assert inline_shared_initializers(model) >= 2  # the exporter shared the zero biases
    assert not [n for n in model.graph.node if n.op_type == 'Identity']
    onnx.checker.check_model(model)
    onnx.save(model, str(inlined))
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).run(None, {'x': x})
    got = ort.InferenceSession(str(inlined), providers=['CPUExecutionProvider']).run(None,
                                                                                     {'x': x})
    np.testing.assert_array_equal(got[0], want[0])

    def ops_run(fp32):
        int8, optimized = tmp_path / 'int8.onnx', tmp_path / 'optimized.onnx'
        Q.quantize(str(fp32), str(int8), [{'x': x}])
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(optimized)
        ort.InferenceSession(str(int8), options, providers=['CPUExecutionProvider'])
        return [n.op_type for n in onnx.load(str(optimized)).graph.node]

    ops = ops_run(inlined)
    assert ops.count('QLinearConv') == 3 and 'Conv' not in ops, ops
    assert 'Conv' in ops_run(path)  # what inlining fixes: a float Conv left over

"""Official whole-model files through the tools: ``tools/test.py`` evaluates
one directly (converted on the fly, with the report), and
``tools/model_converters/convert_official_checkpoint.py`` converts the whole model, not only
its backbone. The files are the tiny golden ones: official layout, random
weights (tests/data/litv2_golden)."""
import torch

from support.litv2_released import CONFIGS, build_model, golden, tiny_config
from support.tool_runs import ROOT, run_tool


def tiny_config_file(tmp_path, kind):
    """Our released-structure config with the golden's tiny sizes, as a file."""
    from support.litv2_released import tiny_overrides
    path = tmp_path / f'{kind}_tiny.py'
    path.write_text(f"_base_ = '{ROOT}/configs/{CONFIGS[kind]}.py'\n"
                    f'model = {tiny_overrides(kind)!r}\n')
    return path


def test_test_tool_evaluates_an_official_segmentor_file(tmp_path, tiny_ade):
    res = run_tool('tools/test.py', tiny_config_file(tmp_path, 'fpn'),
                   golden('fpn', 'weights.pth'), '--data-root', tiny_ade,
                   '--work-dir', tmp_path / 'w')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert 'converted on the fly: official LITv2 detector/segmentor file' in out
    assert 'kept as they are: decode_head' in out
    assert 'mIoU' in out


def test_convert_tool_converts_the_whole_model(tmp_path):
    dst = tmp_path / 'mask_rcnn_tiny_ours.pth'
    res = run_tool('tools/model_converters/convert_official_checkpoint.py',
                   golden('mask_rcnn', 'weights.pth'), dst)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'the whole model' in res.stdout and 'roi_head' in res.stdout
    official = torch.load(golden('mask_rcnn', 'weights.pth'), weights_only=True)['state_dict']
    converted = torch.load(dst, weights_only=True)['state_dict']
    model = build_model(tiny_config('mask_rcnn'))
    model.load_state_dict(converted, strict=True)  # plain torch: nothing converts on the way
    assert torch.equal(model.roi_head.mask_head.conv_logits.weight,
                       official['roi_head.mask_head.conv_logits.weight'])
    assert torch.equal(model.backbone.stages[2].blocks[1].attn.h_qkv.weight,
                       official['backbone.layers.2.blocks.1.attn.h_qkv.weight'])

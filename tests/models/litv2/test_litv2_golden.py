"""LITv2 equals the official detection backbone on the golden data in
``tests/data/litv2_golden`` (the official code's outputs, in float64, on a
tiny architecture with random weights and offsets; see its README)."""
import os

import pytest
import torch
import torch.nn.functional as F

from mmfastervit import LITv2
from support.tool_runs import ROOT

GOLDEN = os.path.join(ROOT, 'tests', 'data', 'litv2_golden')
TOL = 1e-4  # the golden README's tolerance (fp32)


def golden(name):
    path = os.path.join(GOLDEN, name)
    assert os.path.isfile(path), f'{path} is missing: the golden data is part of the checkout'
    return path


def output_norm(f):
    """Fresh channel LayerNorm (weight 1, bias 0, eps 1e-5), as the README says."""
    return F.layer_norm(f.permute(0, 2, 3, 1), (f.shape[1],), eps=1e-5).permute(0, 3, 1, 2)


@pytest.fixture(scope='module')
def model():
    arch = torch.load(golden('case_224x224.pth'))['arch']
    model = LITv2(dict(arch), init_cfg=dict(type='Pretrained', checkpoint=golden('weights.pth')))
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('case', ['case_224x224.pth', 'case_256x320.pth'])
@pytest.mark.parametrize('sampler', ['grid_sample', 'deform_conv2d'])
def test_outputs_match_the_official_code(model, case, sampler):
    data = torch.load(golden(case))
    for stage in model.stages[:3]:
        stage.downsample.dconv.sampler = sampler
    with torch.no_grad():
        outs = model(data['input'].float())
    assert len(outs) == len(data['feats']) == 4
    for i, (out, feat) in enumerate(zip(outs, data['feats'])):
        assert out.shape == feat.shape, (i, out.shape, feat.shape)
        err = (out - output_norm(feat)).abs().max().item()
        assert err <= TOL, f'{case} stage {i}: max-abs difference {err:.2e} > {TOL}'


def test_the_golden_weights_load_completely(model):
    """Everything but the classifier and the output norms came from the file
    (a key left at its initialisation would make the comparison meaningless)."""
    official = torch.load(golden('weights.pth'))['model']
    state = model.state_dict()
    backbone = {k for k in official if not k.startswith(('norm.', 'head.'))}
    assert len(backbone) == len(state) - 8  # 4 output norms x (weight, bias)
    assert torch.equal(state['stages.2.blocks.1.attn.h_qkv.weight'],
                       official['layers.2.blocks.1.attn.h_qkv.weight'])
    assert torch.equal(state['stages.0.downsample.dconv.conv_offset.weight'],
                       official['layers.0.downsample.dconv.conv_offset.weight'])

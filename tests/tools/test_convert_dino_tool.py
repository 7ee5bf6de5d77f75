"""tools/model_converters/convert_official_checkpoint.py turns a file of NVIDIA's DINO code
into an mmdet DINO checkpoint that the DINO config's model loads strictly."""
import os

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from support.dino import DINO_GOLDEN, build_detector, golden_arch, shrink_dino
from support.tool_runs import ROOT


def test_convert_tool_writes_an_mmdet_dino_checkpoint(tmp_path, run_tool):
    dst = tmp_path / 'dino_mmdet.pth'
    res = run_tool('tools/model_converters/convert_official_checkpoint.py',
                   os.path.join(DINO_GOLDEN, 'tiny_local', 'weights.pth'), dst)
    assert res.returncode == 0, res.stderr
    assert f'(the whole model) to {dst}' in res.stdout
    assert 'copied into branches 0..1' in res.stdout
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['converted_from'] == "NVIDIA's DINO-FasterViT detector"
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'dino_4scale_fastervit_4_21k_224.py'))
    model = build_detector(shrink_dino(cfg.model, golden_arch('tiny_local')))
    load_checkpoint(model, str(dst), strict=True, logger='silent')
    assert torch.equal(model.state_dict()['level_embed'], saved['state_dict']['level_embed'])

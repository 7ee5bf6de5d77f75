"""The backbone, taken by name from a config, drives real mmdet / mmseg models."""
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from support.mm_batches import det_loss_step, seg_loss_step

SMALL_BACKBONE = dict(type='FasterViT', arch='0', window_size=(7, 7, 7, 7),
                      out_indices=(0, 1, 2, 3))


def load_config(tmp_path, text: str) -> Config:
    path = tmp_path / 'cfg.py'
    path.write_text(textwrap.dedent(text))
    return Config.fromfile(str(path))


def backbone_grads(model):
    return [p.grad for n, p in model.named_parameters() if n.startswith('backbone.')]


@pytest.mark.slow  # a whole Cascade Mask R-CNN step: ~18 s on 2 cores
def test_cascade_mask_rcnn_forward_backward(tmp_path):
    from mmdet.registry import MODELS

    cfg = load_config(tmp_path, f"""
        _base_ = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'
        custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)
        model = dict(
            backbone=dict(_delete_=True, **{SMALL_BACKBONE!r}),
            neck=dict(in_channels=[64, 128, 256, 512]))
        """)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'FasterViT'
    model.init_weights()
    model.train()

    packed, _, _ = det_loss_step(model)
    grads = backbone_grads(model)
    assert grads and all(g is not None for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0

    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, training=False), mode='predict')
    assert len(results) == 2 and hasattr(results[0], 'pred_instances')


def test_upernet_forward_backward(tmp_path):
    from mmseg.registry import MODELS

    cfg = load_config(tmp_path, f"""
        _base_ = 'mmseg::_base_/models/upernet_swin.py'
        custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(
            data_preprocessor=dict(size=(256, 256)),
            backbone=dict(_delete_=True, **{SMALL_BACKBONE!r}),
            decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=5, norm_cfg=norm_cfg),
            auxiliary_head=dict(in_channels=256, num_classes=5, norm_cfg=norm_cfg))
        """)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'FasterViT'
    model.init_weights()
    model.train()

    seg_loss_step(model, size=256, num_classes=5)
    grads = backbone_grads(model)
    assert grads and all(g is not None for g in grads)


def test_import_needs_neither_mmdet_nor_mmseg(run_tool):
    """Importing the package and building the backbone by name from
    mmengine's registry works with mmdet and mmseg blocked from import."""
    code = textwrap.dedent("""
        import sys
        sys.modules['mmdet'] = None
        sys.modules['mmseg'] = None
        import mmfastervit
        from mmengine.registry import MODELS
        m = MODELS.build(dict(type='FasterViT', arch='0'))
        assert 'mmdet' not in [k.split('.')[0] for k in sys.modules if sys.modules[k]]
        print(type(m).__name__)
        """)
    res = run_tool('-c', code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == 'FasterViT'


def test_import_registers_modules_and_changes_nothing_else_global(run_tool):
    """``import mmfastervit`` (what ``custom_imports`` does) leaves the
    process's warning filters and mmengine's checkpoint loaders as they were,
    and the package root exposes no FasterViT-only name without saying so;
    the tools' settings are an explicit ``setup_env()``."""
    code = textwrap.dedent("""
        import warnings
        from mmengine.runner import CheckpointLoader
        filters, schemes = list(warnings.filters), dict(CheckpointLoader._schemes)
        import mmfastervit
        from mmengine.registry import HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
        assert MODELS.get('FasterViT') and MODELS.get('LITv2')
        assert OPTIM_WRAPPER_CONSTRUCTORS.get('PyramidLayerDecayOptimizerConstructor')
        assert HOOKS.get('ValidateBeforeTrainHook')
        assert warnings.filters == filters, 'warning filters changed'
        assert dict(CheckpointLoader._schemes) == schemes, 'checkpoint loaders changed'
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            assert mmfastervit.arch_zoo is mmfastervit.FasterViT.arch_zoo
        assert 'FasterViT.arch_zoo' in str(caught[0].message), caught
        from mmfastervit.cli import setup_env
        setup_env()
        assert warnings.filters != filters and dict(CheckpointLoader._schemes) != schemes
        print('ok')
        """)
    res = run_tool('-c', code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == 'ok'

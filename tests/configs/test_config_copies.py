"""python -m mmfastervit.configs: a shipped config copied with the _base_ files
it needs loads in the user's folder to the very config it is in the package;
--list, --path and an unknown name."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmfastervit.configs import config_root, copy_config, find_config, list_configs
from mmfastervit.configs.__main__ import main
from mmfastervit.errors import ConfigError
from support.tool_runs import ROOT


@pytest.mark.parametrize('name', ['upernet_litv2_s', 'demo/cascade_fastervit_synthetic_coco'])
def test_copied_config_loads_as_the_shipped_one(tmp_path, name):
    """The copy keeps the chain of local bases (the demo's reaches three
    levels up and two _base_ files) and leaves mmdet:: / mmseg:: bases to the
    installed libraries."""
    copied = copy_config(name, str(tmp_path / 'mine'))
    assert copied[0] == str(tmp_path / 'mine' / f'{name}.py')
    assert len(copied) == len(set(copied)) > 1
    mine = Config.fromfile(copied[0])
    shipped = Config.fromfile(find_config(name))
    assert mine.to_dict() == shipped.to_dict()
    assert mine.custom_imports['imports'] == ['mmfastervit']


def test_names_and_paths():
    # a checkout: its configs/, directly or through an editable install's .mim links
    assert osp.realpath(config_root()) == osp.realpath(osp.join(ROOT, 'configs'))
    names = list_configs()
    assert 'cascade_fastervit_t' in names and 'demo/cascade_litv2_synthetic_coco' in names
    assert not any(n.startswith('_base_') for n in names)
    assert find_config('cascade_litv2_synthetic_coco.py') == names[
        'demo/cascade_litv2_synthetic_coco']


def test_command_line(tmp_path, capsys):
    assert main(['--list']) == 0
    assert capsys.readouterr().out.split() == list(list_configs())
    assert main(['--path']) == 0
    assert capsys.readouterr().out.strip() == config_root()
    assert main(['fpn_litv2_s', '--dest', str(tmp_path)]) == 0
    assert 'fpn_litv2_s.py (and 1 base file)' in capsys.readouterr().out
    assert osp.isfile(tmp_path / '_base_' / 'litv2_s.py')


def test_unknown_name_suggests_close_ones(tmp_path, capsys):
    assert main(['cascade_fastvit_t', '--dest', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no config named 'cascade_fastvit_t': did you mean "
                          'cascade_fastervit_t'), err
    assert '--list' in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match='no config named'):
        find_config('nothing_like_it')
    assert not list(tmp_path.iterdir())


USER_CONFIG = """\
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
          './mmfastervit/_base_/fastervit_2.py']
custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)
model = dict(
    backbone=dict(_base_.fastervit_2_backbone, _delete_=True, window_size=(7, 7, 7, 14)),
    neck=dict(in_channels=[96, 192, 384, 768]))
"""


def test_user_config_builds_on_mmdet_and_a_copied_base(tmp_path):
    """The README's own-project config: mmdet's recipe, our backbone base
    copied beside it (no mmfastervit:: prefix), our backbone in mmdet's model."""
    copy_config('cascade_fastervit_t', str(tmp_path / 'mmfastervit'))
    (tmp_path / 'mask_rcnn_fastervit_2.py').write_text(USER_CONFIG)
    cfg = Config.fromfile(str(tmp_path / 'mask_rcnn_fastervit_2.py'))
    assert cfg.model.type == 'MaskRCNN' and cfg.train_cfg.max_epochs == 12  # mmdet's recipe
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.arch, backbone.window_size) == ('FasterViT', '2',
                                                                    (7, 7, 7, 14))
    assert 'depth' not in backbone  # ResNet's arguments are gone
    assert backbone.init_cfg.checkpoint == 'checkpoints/fastervit_2_224_1k.pth.tar'
    assert cfg.model.neck.in_channels == [96, 192, 384, 768]

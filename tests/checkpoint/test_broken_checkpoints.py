"""Broken checkpoint files get a clear error that names the cause and the fix,
through every way a file is loaded; foreign objects inside checkpoints load
safely."""
import os
import pickle
import zipfile

import pytest
import torch
from mmengine.runner import CheckpointLoader

from benchmarks.reference import build_reference, reference_kwargs, save_official_file
from mmfastervit import FasterViT
from mmfastervit.checkpoint import CheckpointFileError, load_pretrained
from mmfastervit.models.fastervit.checkpoint_format import convert_official

TINY = FasterViT.tiny_arch


# ------------------------------------------------------------ checkpoint files
def _good_file(path) -> bytes:
    torch.save({'state_dict': FasterViT(TINY).state_dict()}, path)
    return path.read_bytes()


def _broken(kind: str, tmp_path):
    """A file of ``kind`` and a fragment its error message must contain."""
    path = tmp_path / f'{kind}.pth'
    good = _good_file(tmp_path / 'good.pth')
    if kind == 'empty':
        path.write_bytes(b'')
        return path, 'is empty (0 bytes)'
    if kind == 'truncated':
        path.write_bytes(good[:len(good) // 2])
        return path, 'is truncated or corrupt'
    if kind == 'corrupt':  # intact zip directory, damaged records inside
        data = bytearray(good)
        with zipfile.ZipFile(tmp_path / 'good.pth') as archive:
            info = archive.getinfo(next(n for n in archive.namelist() if n.endswith('data.pkl')))
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        data[start:start + 40] = b'\x00' * 40
        path.write_bytes(bytes(data))
        return path, 'is corrupt'
    if kind == 'html':
        path.write_text('<!DOCTYPE html><html><body>404 Not Found</body></html>')
        return path, 'an HTML page'
    if kind == 'text':
        path.write_text('version https://git-lfs.github.com/spec/v1\noid sha256:abc\n')
        return path, "text ('version https://git-lfs"
    if kind == 'zip-not-checkpoint':
        with zipfile.ZipFile(path, 'w') as archive:
            archive.writestr('readme.txt', 'hello')
        return path, 'is a zip archive but not a PyTorch checkpoint'
    if kind == 'not-a-dict':
        torch.save([torch.zeros(3)], path)
        return path, 'holds a list, not a checkpoint'
    raise ValueError(kind)


BROKEN = ['empty', 'truncated', 'corrupt', 'html', 'text', 'zip-not-checkpoint', 'not-a-dict']


@pytest.mark.parametrize('kind', BROKEN)
def test_broken_checkpoint_through_init_cfg(tmp_path, kind):
    path, says = _broken(kind, tmp_path)
    model = FasterViT(TINY, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointFileError) as err:
        model.init_weights()
    assert says in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize('kind', [k for k in BROKEN if k != 'not-a-dict'])
def test_broken_checkpoint_through_mmengine(tmp_path, kind, tools_environment):
    """mmengine's loader, as our tools set it up (load_from, --resume,
    tools/test.py, or a user's script after setup_env()), gives the same
    message."""
    path, says = _broken(kind, tmp_path)
    with pytest.raises(CheckpointFileError, match=says.replace('(', r'\(').replace(')', r'\)')):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_training_config_objects_load_without_unsafe_pickle(tmp_path):
    """An official-format file that still carries its training config (a yacs
    CfgNode, as LITv2's trainer saves) and an object whose unpickling would run
    a command: the weights load, the objects stay inert placeholders, the
    command never runs, and torch's default loader still refuses the file."""
    from yacs.config import CfgNode

    ref = build_reference([224, 224], **reference_kwargs('0'))
    weights_file = tmp_path / 'weights.pth'
    save_official_file(ref, weights_file, layout='model')
    checkpoint = torch.load(weights_file, weights_only=False)
    config = CfgNode({'MODEL': CfgNode({'TYPE': 'fastervit', 'DROP_PATH': 0.2})})
    marker = tmp_path / 'executed'

    class RunsACommand:
        def __reduce__(self):
            return os.system, (f'touch {marker}',)

    path = tmp_path / 'with_config.pth'
    torch.save(dict(checkpoint, config=config, extra=RunsACommand()), path)

    model = FasterViT('0')
    report = load_pretrained(model, str(path))
    assert not marker.exists()
    assert set(report.placeholders) == {'yacs.config.CfgNode', 'posix.system'}
    assert 'inert placeholders' in str(report)
    for key, value in convert_official(ref.state_dict())[0].items():
        assert torch.equal(model.state_dict()[key], value), key
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(path)  # the allowlist was not widened


def test_missing_checkpoint_names_the_path_and_the_fix(tmp_path):
    model = FasterViT(TINY, init_cfg=dict(type='Pretrained',
                                          checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match=r'nope\.pth.*does not exist.*init_cfg=None'):
        model.init_weights()

"""Bad input gets a clear error that names the cause and the fix: broken
checkpoint files (through every way a file is loaded), foreign objects inside
checkpoints (loaded safely), inputs a backbone cannot take, datasets that are
not where a config says; through the tools, each as one ``error:`` line with
exit code 2. A training run stopped by SIGTERM / SIGINT resumes to the same
weights as an uninterrupted one, and the tools' console stays readable."""
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader

from mmfastervit import FasterViT, InputError
from mmfastervit.checkpoint import CheckpointFileError, load_pretrained
from mmfastervit.cli.preflight import dataset_settings, move_data_root, preflight
from mmfastervit.datasets.synthetic_ade20k import make_synthetic_ade20k
from mmfastervit.datasets.synthetic_coco import make_synthetic_coco
from mmfastervit.errors import ConfigError
from mmfastervit.models.fastervit.checkpoint_format import convert_official
from mmfastervit.testing.reference import build_reference, reference_kwargs, save_official_file

TINY = dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2))


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


@pytest.fixture
def tools_environment(monkeypatch):
    """What our tools set up (:func:`mmfastervit.cli.setup_env`), undone after
    the test: mmengine's table of loaders is restored."""
    from mmfastervit.cli import setup_env
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    setup_env()


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


# ------------------------------------------------------------ backbone inputs
@pytest.fixture(scope='module')
def tiny():
    return FasterViT(TINY).eval()


@pytest.mark.parametrize('make, match', [
    (lambda: torch.zeros(0, 3, 64, 64), r'empty batch \(shape \(0, 3, 64, 64\)\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.uint8),
     r'dtype torch\.uint8.*data preprocessor.*x\.float\(\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.int64), r'dtype torch\.int64.*x\.float\(\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.float64),
     r'torch\.float32 weights but got a torch\.float64 input.*x\.to\(torch\.float32\)'),
    (lambda: torch.zeros(3, 64, 64), r'got shape \(3, 64, 64\).*x\[None\]'),
    (lambda: torch.zeros(1, 1, 3, 64, 64), r'\(B, C, H, W\) tensor, got shape \(1, 1, 3, 64, 64\)'),
    (lambda: torch.zeros(1, 1, 64, 64), r'built for 3 input channels but got 1'),
    (lambda: torch.zeros(1, 3, 31, 64), r'input \(31, 64\) is too small.*at least 32'),
    (lambda: [torch.zeros(3, 64, 64)], r'expects a \(B, C, H, W\) tensor, got list'),
])
def test_inputs_a_backbone_cannot_take(tiny, make, match):
    with pytest.raises(InputError, match=match), torch.no_grad():
        tiny(make())


def test_other_float_dtypes_work_where_they_should(tiny):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert len(tiny(x.bfloat16())) == 4  # autocast takes any float input
    double = FasterViT(TINY).double().eval()
    with torch.no_grad():
        assert double(x.double())[0].dtype == torch.float64


def test_check_finite_names_the_bad_images():
    model = FasterViT(TINY, check_finite=True).eval()
    x = torch.randn(4, 3, 64, 64)
    x[1, 0, 5, 5] = float('nan')
    x[3, 2, 0, 0] = float('inf')
    with pytest.raises(InputError, match=r'NaN and inf in batch element\(s\) \[1, 3\] of 4'), \
            torch.no_grad():
        model(x)
    x[1, 0, 5, 5] = x[3, 2, 0, 0] = 0.0
    with torch.no_grad():
        assert all(torch.isfinite(o).all() for o in model(x))


# ------------------------------------------------------------ non-finite input
def test_non_finite_input_propagates_the_same_on_every_eager_path(monkeypatch):
    """NaN / inf never silently become numbers: the fused inference kernels,
    the plain no-grad path, autograd and bf16 autocast give NaN at the same
    places, and only in the image that holds them."""
    import mmfastervit.cpu.onednn as onednn

    torch.manual_seed(0)
    model = FasterViT(dict(TINY, depths=(1, 1, 2, 1))).eval()
    x = torch.randn(3, 3, 128, 160)
    x[1, 0, 40, 40] = float('nan')
    x[2, 1, 7, 9] = float('inf')
    with torch.no_grad():
        fused = model(x)
    paths = {}
    with torch.no_grad(), monkeypatch.context() as m:
        m.setattr(onednn, 'usable', lambda t: False)
        paths['plain'] = model(x)
    paths['autograd'] = model(x)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        paths['bf16 autocast'] = model(x)
    for i, out in enumerate(fused):
        assert torch.isfinite(out[0]).all(), f'stage {i}: a clean image got non-finite values'
        assert out[1].isnan().any() and out[2].isnan().any(), f'stage {i} lost the NaN'
        for name, outs in paths.items():
            assert torch.equal(outs[i].isnan(), out.isnan()), f'stage {i}: {name} differs'


# ------------------------------------------------------------ datasets (preflight)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_COCO = os.path.join(ROOT, 'configs/demo/cascade_fastervit_synthetic_coco.py')
DEMO_ADE = os.path.join(ROOT, 'configs/demo/upernet_fastervit_synthetic_ade20k.py')
COCO_SETTINGS = ['train_dataloader.dataset.data_root', 'val_dataloader.dataset.data_root',
                 'test_dataloader.dataset.data_root', 'val_evaluator.ann_file',
                 'test_evaluator.ann_file']
ADE_SETTINGS = COCO_SETTINGS[:3]


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    make_synthetic_coco(str(root), num_train=8, num_val=4, seed=1)
    return str(root)


@pytest.fixture(scope='module')
def tiny_ade(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'
    make_synthetic_ade20k(str(root), num_train=2, num_val=2, seed=5)
    return str(root)


def _moved(config, root):
    cfg = Config.fromfile(config)
    move_data_root(cfg, root)
    return cfg


@pytest.mark.parametrize('config, mode, setting', [
    (DEMO_COCO, 'train', 'train_dataloader.dataset.data_root'),
    (DEMO_COCO, 'train', 'val_dataloader.dataset.data_root'),
    (DEMO_COCO, 'train', 'val_evaluator.ann_file'),
    (DEMO_COCO, 'test', 'test_dataloader.dataset.data_root'),
    (DEMO_COCO, 'test', 'test_evaluator.ann_file'),
    (DEMO_ADE, 'train', 'train_dataloader.dataset.data_root'),
    (DEMO_ADE, 'train', 'val_dataloader.dataset.data_root'),
    (DEMO_ADE, 'test', 'test_dataloader.dataset.data_root'),
])
def test_preflight_names_every_file_a_run_opens(tiny_coco, tiny_ade, config, mode, setting):
    """Each dataset and evaluator file is checked before anything is built;
    the message names the missing path, the loader or evaluator, and every
    setting that moves a dataset (or --data-root, which moves them all)."""
    coco = config == DEMO_COCO
    cfg = _moved(config, tiny_coco if coco else tiny_ade)
    preflight(cfg, mode)  # everything in place: passes
    cfg.merge_from_dict({setting: '/nowhere/x' + ('.json' if 'ann_file' in setting else '/')})
    with pytest.raises(ConfigError) as err:
        preflight(cfg, mode)
    msg = str(err.value)
    assert msg.startswith(setting.split('.')[0] + ':') and '/nowhere/x' in msg, msg
    assert '--data-root DIR' in msg and '\n' not in msg
    for key in (COCO_SETTINGS if coco else ADE_SETTINGS):
        assert key in msg, (key, msg)


def test_data_root_moves_every_dataset_and_evaluator_file(tiny_coco, tiny_ade):
    """--data-root: every dataloader's dataset (inside wrappers too) and the
    evaluators' files under the old root (one metric or a list) move."""
    cfg = Config.fromfile(DEMO_COCO)
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=cfg.train_dataloader.dataset)
    cfg.val_evaluator = [cfg.val_evaluator, dict(cfg.val_evaluator, metric='bbox')]
    with pytest.raises(ConfigError, match=r'val_evaluator\.1: CocoMetric reads ann_file'):
        cfg2 = Config.fromfile(DEMO_COCO)
        cfg2.val_evaluator = [dict(cfg2.val_evaluator, ann_file=tiny_coco + '/annotations/'
                                   'instances_val2017.json'), cfg2.val_evaluator]
        move_data_root(cfg2, tiny_coco)
        cfg2.val_evaluator[1]['ann_file'] = '/nowhere/a.json'
        preflight(cfg2, 'train')
    moved = move_data_root(cfg, tiny_coco)
    assert moved == dataset_settings(cfg)
    assert 'train_dataloader.dataset.dataset.data_root' in moved
    assert {'val_evaluator.0.ann_file', 'val_evaluator.1.ann_file'} <= set(moved)
    ann = os.path.join(tiny_coco, 'annotations/instances_val2017.json')
    assert [m['ann_file'] for m in cfg.val_evaluator] == [ann, ann]
    preflight(cfg, 'train')
    preflight(cfg, 'test')
    ade = _moved(DEMO_ADE, tiny_ade)
    assert ade.train_dataloader.dataset.data_root == tiny_ade + '/'
    preflight(ade, 'train')


# ------------------------------------------------------------ tools: one error line
def tool(*args, timeout=600):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_error(res, *fragments):
    """Exit code 2, and stderr is exactly one ``error:`` line naming the cause."""
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr[-3000:] + res.stdout[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_train_tool_refuses_a_half_moved_dataset(tmp_path, tiny_coco):
    """Moving only the training data (the old hint) fails at start-up on the
    validation data, listing every setting; nothing is built."""
    res = tool('tools/train.py', DEMO_COCO, '--work-dir', tmp_path / 'w', '--cfg-options',
               f'train_dataloader.dataset.data_root={tiny_coco}/')
    line = assert_one_error(res, 'val_dataloader: CocoDataset needs data/synthetic_coco/',
                            '--data-root DIR', *COCO_SETTINGS)
    assert 'make_synthetic_coco.py data/synthetic_coco' in line
    assert not (tmp_path / 'w').exists()


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory, tiny_coco):
    """A demo detector's checkpoint (as tools/train.py saves it, untrained),
    and broken or wrong files made from it."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    d = tmp_path_factory.mktemp('ckpt')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    weights = MODELS.build(Config.fromfile(DEMO_COCO).model).state_dict()
    torch.save(dict(state_dict=weights, meta=dict(iter=2, epoch=0, seed=0)), d / 'model.pth')
    good = (d / 'model.pth').read_bytes()
    (d / 'truncated.pth').write_bytes(good[:len(good) // 2])
    (d / 'page.pth').write_text('<!DOCTYPE html><html><body>Not Found</body></html>')
    torch.save([torch.zeros(3)], d / 'list.pth')
    torch.save(dict(state_dict={k[len('backbone.'):]: v for k, v in weights.items()
                                if k.startswith('backbone.')}), d / 'backbone.pth')
    torch.save(dict(state_dict={k: v for k, v in weights.items()
                                if not k.startswith('roi_head.')}), d / 'partial.pth')
    return d


def test_tool(*args, **kw):
    return tool('tools/test.py', DEMO_COCO, *args, **kw)


test_tool.__test__ = False  # a helper, not a test


@pytest.mark.parametrize('name, says', [
    ('truncated', ['truncated.pth is truncated or corrupt', 'Download or save it again']),
    ('list', ['list.pth holds a list, not a checkpoint', 'expected a dict of weights']),
    ('backbone', ['backbone.pth holds backbone weights only', 'not a whole model of',
                  'model.backbone.init_cfg']),
    ('partial', ['partial.pth does not fit the model', 'roi_head (48)',
                 'evaluate the file tools/train.py saved']),
])
def test_test_tool_refuses_bad_checkpoints(tmp_path, tiny_coco, checkpoints, name, says):
    res = test_tool(checkpoints / f'{name}.pth', '--data-root', tiny_coco,
                    '--work-dir', tmp_path)
    assert_one_error(res, *says)


@pytest.mark.parametrize('case, says', [
    ('truncated', ['truncated.pth is truncated or corrupt']),
    ('backbone', ['--resume checkpoint', 'backbone.pth is not a training checkpoint',
                  '--cfg-options load_from=']),
    ('auto-broken-latest', ['--resume: checkpoint', 'iter_4.pth is truncated or corrupt',
                            'It is the latest checkpoint in', 'resume from an earlier one: '
                            '--resume']),
    ('auto-missing-latest', ['iter_6.pth, the latest checkpoint in', 'does not exist',
                             'resume from an earlier one: --resume']),
    ('load_from', ['page.pth is not a PyTorch checkpoint: it holds an HTML page']),
])
def test_train_tool_refuses_bad_resume_and_load_from(tmp_path, tiny_coco, checkpoints,
                                                     case, says):
    """--resume CKPT, --resume (the latest in the work dir) and load_from
    are checked before the runner builds anything."""
    work = tmp_path / 'w'
    args = ['tools/train.py', DEMO_COCO, '--data-root', tiny_coco, '--work-dir', work]
    if case in ('truncated', 'backbone'):
        args += ['--resume', checkpoints / f'{case}.pth']
    elif case.startswith('auto'):
        work.mkdir()
        (work / 'iter_2.pth').write_bytes((checkpoints / 'model.pth').read_bytes())
        (work / 'iter_4.pth').write_bytes((checkpoints / 'truncated.pth').read_bytes())
        latest = 'iter_4.pth' if case == 'auto-broken-latest' else 'iter_6.pth'
        (work / 'last_checkpoint').write_text(str(work / latest))
        args += ['--resume']
    else:
        args += ['--cfg-options', f'load_from={checkpoints / "page.pth"}']
    line = assert_one_error(tool(*args), *says)
    if case.startswith('auto'):  # the earlier readable file, not the broken one
        assert line.rstrip('.').endswith(f'--resume {work / "iter_2.pth"}'), line


@pytest.mark.parametrize('src, says', [
    ('truncated', ['truncated.pth is truncated or corrupt']),
    ('model', ['model.pth is not in the official key layout of FasterViT, LITv2',
               'it is already converted (our FasterViT layout', 'configs load it as it is']),
])
def test_convert_tool_refuses_bad_files(tmp_path, checkpoints, src, says):
    res = tool('tools/convert_official_checkpoint.py', checkpoints / f'{src}.pth',
               tmp_path / 'out.pth')
    assert_one_error(res, *says)
    assert not (tmp_path / 'out.pth').exists()


@pytest.fixture(scope='module')
def coco_with_nan_image(tmp_path_factory, tiny_coco):
    """The tiny dataset with one validation image stored as floats holding
    NaN (a PFM file, which OpenCV reads as float32)."""
    import shutil

    import cv2

    root = tmp_path_factory.mktemp('nan') / 'coco'
    shutil.copytree(tiny_coco, root)
    ann_path = root / 'annotations/instances_val2017.json'
    ann = json.loads(ann_path.read_text())
    image = ann['images'][1]
    pixels = cv2.imread(str(root / 'val2017' / image['file_name'])).astype(np.float32)
    pixels[10:20, 10:20, 0] = np.nan
    image['file_name'] = image['file_name'].replace('.jpg', '.pfm')
    assert cv2.imwrite(str(root / 'val2017' / image['file_name']), pixels)
    ann_path.write_text(json.dumps(ann))
    return root, str(root / 'val2017' / image['file_name'])


FLOAT_IMAGES = ['test_dataloader.batch_size=1', 'test_dataloader.num_workers=0',
                'test_dataloader.persistent_workers=False',
                'test_dataloader.dataset.pipeline.0.color_type=unchanged']


def test_non_finite_image_is_named_by_the_test_tool(tmp_path, coco_with_nan_image, checkpoints):
    """tools/test.py turns check_finite on for our backbones: the image file
    is named; --no-check-finite lets the values through instead."""
    root, nan_file = coco_with_nan_image
    res = test_tool(checkpoints / 'model.pth', '--data-root', root, '--work-dir', tmp_path,
                    '--cfg-options', *FLOAT_IMAGES)
    assert_one_error(res, f'FasterViT input holds NaN in {nan_file} (test iteration 2, batch '
                     'element 0 of 1)', 'to let such values through: --no-check-finite')


@pytest.mark.slow
def test_no_check_finite_lets_the_test_tool_finish(tmp_path, coco_with_nan_image, checkpoints):
    root, _ = coco_with_nan_image
    res = test_tool(checkpoints / 'model.pth', '--data-root', root, '--work-dir', tmp_path,
                    '--no-check-finite', '--cfg-options', *FLOAT_IMAGES)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'test results:' in res.stdout


def test_batch_element_is_named_when_samples_have_no_path():
    from mmfastervit.engine import BatchSourcesHook

    hook = BatchSourcesHook()
    assert hook.where([1], 2) == ''
    hook.before_test_iter(None, 4, dict(data_samples=[dict(img_path='a.jpg'),
                                                      dict(img_path='b.jpg')]))
    assert hook.where([1], 2) == 'b.jpg (test iteration 5, batch element 1 of 2)'
    hook.before_val_iter(None, 0, dict(data_samples=[dict(), dict()]))
    assert hook.where([0], 2) == 'batch element(s) [0] of 2 in val iteration 1'


def test_demo_stops_with_the_failing_tools_error(tmp_path):
    res = tool('tools/demo.py', 'coco', '--data-root', tmp_path / 'data', '--work-dir',
               tmp_path / 'work', '--cfg-options', 'model.backbone.arch=9')
    assert_one_error(res, 'model.backbone: unknown FasterViT arch 9; choose one of')
    assert '[2/4] training' in res.stdout and '[3/4]' not in res.stdout


# ------------------------------------------------------------ readable logs
def test_test_tool_console_is_readable(tmp_path, tiny_coco, checkpoints):
    """No deprecation noise, no pycocotools chatter or 12-line tables, no
    config dump on the console: one-line summaries, progress with an ETA and
    one compact table; the log file keeps the full reports."""
    res = test_tool(checkpoints / 'model.pth', '--data-root', tiny_coco, '--work-dir', tmp_path,
                    '--cfg-options', 'test_dataloader.batch_size=1',
                    'test_dataloader.dataset.pipeline.1.scale=(160,160)')
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert res.stderr.strip() == '', res.stderr  # no warnings at all
    for noise in ('pkg_resources', 'deprecated', 'Average Precision', 'loading annotations',
                  'index created', 'System environment', 'Config:', 'copypaste'):
        assert noise not in out, noise
    assert re.search(r'environment: Python: [\d.]+, PyTorch: [\d.]+.*full report in', out)
    assert re.search(r'test: 1/4 batches \(25%\), eta \d:\d\d:\d\d', out)
    table = out[out.index('test results:'):].splitlines()[1:4]
    assert table[0].split() == ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
    assert table[1].split()[0] == 'bbox' and table[2].split()[0] == 'segm'
    log_file = re.search(r'full report in (\S+)\)', out)[1]
    log = open(log_file).read()
    assert 'System environment' in log and 'Average Precision' in log and 'Config:' in log
    assert len(out.splitlines()) < 25, out


def test_backbone_init_from_user_code_is_one_line():
    code = ('import mmfastervit, sys\n'
            'from mmengine.logging import MMLogger\n'
            'if sys.argv[1] == "debug": MMLogger.get_instance("x", log_level="DEBUG")\n'
            'mmfastervit.FasterViT(dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)))'
            '.init_weights()\n')
    quiet = subprocess.run([sys.executable, '-c', code, 'info'], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    lines = (quiet.stdout + quiet.stderr).strip().splitlines()
    assert quiet.returncode == 0 and len(lines) == 1, lines[:5]
    assert re.search(r'FasterViT: initialised \d+ parameter tensors .* log level DEBUG', lines[0])
    full = subprocess.run([sys.executable, '-c', code, 'debug'], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert full.stdout.count('stem.conv1.weight') == 1 and full.stdout.count('INFO') > 50


# ------------------------------------------------------------ stop and resume
TINY_RUN = ['train_dataloader.batch_size=1', 'train_dataloader.num_workers=1',
            'train_dataloader.persistent_workers=False',
            'train_dataloader.dataset.pipeline.2.scale=(160,160)',
            'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'val_dataloader.dataset.pipeline.1.scale=(160,160)',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=9',
            'custom_hooks=[]', 'randomness.seed=0', 'randomness.deterministic=True']
#: 6 iterations, validation after 3 and 6, checkpoints every 4: the stop (after
#: iteration 2 or 3) is never a checkpoint iteration, and at 3 a validation is due
ITER_RUN = TINY_RUN + ['train_cfg.max_iters=6', 'train_cfg.val_interval=3',
                       'default_hooks.checkpoint.interval=4']


def train_cmd(config, data, work, options):
    return [sys.executable, 'tools/train.py', str(config), '--data-root', str(data),
            '--work-dir', str(work), '--cfg-options', *options]


def stopped_run(cmd, marker, signum, whole_group):
    """Start ``cmd``, send ``signum`` once ``marker`` is printed (to the whole
    process group, data workers included, as Ctrl-C does), return the exit
    code and the output."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    seen, deadline = [], time.time() + 900
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.time() > deadline:
            break
    (os.killpg if whole_group else os.kill)(proc.pid, signum)
    rest, _ = proc.communicate(timeout=900)
    return proc.returncode, ''.join(seen) + rest


def resume_printed(log):
    """Run the resume command the stopped run printed, exactly."""
    import shlex

    command = log[log.index('To resume:'):].splitlines()[1].strip()
    res = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout


def assert_same_training_state(a, b):
    """Weights, buffers and optimizer state equal bit for bit."""
    a, b = (torch.load(p, map_location='cpu', weights_only=True) for p in (a, b))
    assert a['meta']['iter'] == b['meta']['iter']
    diff = max((a['state_dict'][k].double() - b['state_dict'][k].double()).abs().max().item()
               for k in a['state_dict'])
    assert diff == 0, f'weights differ by up to {diff}'
    for i, state in a['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(value, b['optimizer']['state'][i][name]), (i, name)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, tiny_coco):
    work = tmp_path_factory.mktemp('uninterrupted')
    res = subprocess.run(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN), cwd=ROOT,
                         capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return work, res.stdout


@pytest.mark.slow
def test_sigterm_saves_the_iteration_and_resume_reaches_the_same_weights(
        tmp_path, tiny_coco, uninterrupted):
    work = tmp_path / 'w'
    code, log = stopped_run(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN),
                            'Iter(train) [2/6]', signal.SIGTERM, whole_group=False)
    assert code == 128 + signal.SIGTERM, log[-3000:]
    assert 'SIGTERM received: finishing iteration' in log
    stop = int(re.search(r'Stopped by SIGTERM after iteration (\d) of 6; saved (\S+) \(', log)[1])
    assert stop in (2, 3) and 'Traceback' not in log
    assert [p.name for p in work.glob('*.pth')] == [f'iter_{stop}.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / f'iter_{stop}.pth')
    resumed = resume_printed(log)
    first = re.search(r'Iter\(train\) \[(\d)/6\]', resumed)
    assert first and int(first[1]) == stop + 1  # continued, not restarted
    if stop == 3:  # the validation due after iteration 3 ran on resume
        assert 'val results after iteration 3' in resumed
    assert_same_training_state(uninterrupted[0] / 'iter_6.pth', work / 'iter_6.pth')


@pytest.mark.slow
def test_second_signal_stops_at_once_without_saving(tmp_path, tiny_coco):
    work = tmp_path / 'w'
    proc = subprocess.Popen(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if 'Iter(train) [1/6]' in line:
            proc.send_signal(signal.SIGTERM)
        # the second signal goes as soon as the first is acknowledged, while
        # that iteration (seconds long) still runs
        finishing = re.search(r'SIGTERM received: finishing iteration (\d)', line)
        if finishing:
            proc.send_signal(signal.SIGTERM)
            break
    log, _ = proc.communicate(timeout=600)
    log = ''.join(seen) + log
    assert finishing, log[-3000:]
    assert proc.returncode == 128 + signal.SIGTERM, log[-3000:]
    assert 'SIGTERM received again: stopping now without saving' in log
    assert not (work / f'iter_{finishing[1]}.pth').exists() and 'Stopped by' not in log
    assert 'Traceback' not in log


EPOCH_CONFIG = '''_base_ = {base!r}
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, save_last=True))
'''


@pytest.mark.slow
def test_ctrl_c_mid_epoch_resumes_to_the_same_weights(tmp_path, tiny_coco):
    """Epoch-based loop, Ctrl-C (SIGINT to every process, data workers
    included) in the middle of the second epoch: the resumed run continues
    at the next batch of that epoch and ends with the same weights."""
    config = tmp_path / 'epoch_cfg.py'
    config.write_text(EPOCH_CONFIG.format(base=DEMO_COCO))
    options = [o for o in TINY_RUN if 'train_dataloader.batch_size' not in o]
    options += ['train_dataloader.batch_size=2']  # 8 images: 4 iterations per epoch
    reference = subprocess.run(train_cmd(config, tiny_coco, tmp_path / 'ref', options),
                               cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert reference.returncode == 0, (reference.stdout + reference.stderr)[-3000:]
    work = tmp_path / 'w'
    code, log = stopped_run(train_cmd(config, tiny_coco, work, options), 'Iter(train) [5/8]',
                            signal.SIGINT, whole_group=True)
    assert code == 128 + signal.SIGINT, log[-3000:]
    stop = int(re.search(r'Stopped by SIGINT after iteration (\d) of 8', log)[1])
    assert stop in (5, 6, 7) and 'Traceback' not in log
    resumed = resume_printed(log)
    assert re.search(rf'resumed epoch: 1, iter: {stop}', resumed)
    assert re.search(rf'Iter\(train\) \[{stop + 1}/8\]', resumed)
    assert_same_training_state(tmp_path / 'ref' / 'epoch_2.pth', work / 'epoch_2.pth')


def test_segmentation_metrics_and_per_class_tables_stay_short(tmp_path):
    """mmseg's metrics make one row; its per-class table stays on the
    console while short and goes to the log file when long (ADE20K: 150)."""
    import logging

    from mmengine.logging import MMLogger

    from mmfastervit.cli.console import summarise_console
    from mmfastervit.engine.hooks import format_metrics

    table = format_metrics({'aAcc': 85.99, 'mIoU': 80.3, 'mAcc': 88.37}).splitlines()
    assert table[0].split() == ['aAcc', 'mIoU', 'mAcc'] and table[1].split() == [
        '85.990', '80.300', '88.370']
    logger = MMLogger.get_instance('console_test', log_file=str(tmp_path / 'run.log'))
    console = next(h for h in logger.handlers if type(h) is logging.StreamHandler)
    shown = []
    console.emit = lambda record: shown.append(record.getMessage())
    summarise_console(logger)
    for classes in (5, 150):
        rows = ''.join(f'| class{i} | 1.0 | 2.0 |\n' for i in range(classes))
        logger.info('per class results:')
        logger.info(f'\n+---+\n|  Class  | IoU | Acc |\n+---+\n{rows}+---+')
    logger.info('Config:\n' + 'x = 1\n' * 600)
    assert shown[0].startswith('per-class results:\n+---+') and shown[0].count('| class') == 5
    assert shown[1] == f'per-class results (150 classes): in {tmp_path / "run.log"}'
    assert shown[2] == f'config: full text in {tmp_path / "run.log"}' and len(shown) == 3
    logger.handlers[-1].flush()
    written = (tmp_path / 'run.log').read_text()
    assert 'class149' in written and written.count('x = 1') == 600

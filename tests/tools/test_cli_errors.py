"""Bad input through the tools: each a single ``error:`` line with exit code
2 that names the cause and the fix (datasets, checkpoints, non-finite images,
the demo)."""
import json
import os
import re

import numpy as np
import pytest

from support.tool_runs import (
    COCO_SETTINGS,
    DEMO_COCO,
    ROOT,
    assert_one_error,
    run_test_tool,
    run_tool,
)


# ------------------------------------------------------------ tools: one error line
def test_train_tool_refuses_a_half_moved_dataset(tmp_path, tiny_coco):
    """Moving only the training data (the old hint) fails at start-up on the
    validation data, listing every setting; nothing is built. The tool runs
    in an empty folder, so the config's default data/synthetic_coco/ is
    missing whatever the checkout's data/ holds (bash tools/demo.sh fills it)."""
    empty = tmp_path / 'cwd'
    empty.mkdir()
    res = run_tool('tools/train.py', DEMO_COCO, '--work-dir', tmp_path / 'w', '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_coco}/', cwd=empty)
    line = assert_one_error(res, 'val_dataloader: CocoDataset needs data/synthetic_coco/',
                            '--data-root DIR', *COCO_SETTINGS)
    assert 'make_synthetic_coco.py data/synthetic_coco' in line
    assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('name, says', [
    ('truncated', ['truncated.pth is truncated or corrupt', 'Download or save it again']),
    ('list', ['list.pth holds a list, not a checkpoint', 'expected a dict of weights']),
    ('backbone', ['backbone.pth holds backbone weights only', 'not a whole model of',
                  'model.backbone.init_cfg']),
    ('partial', ['partial.pth does not fit the model', 'roi_head (48)',
                 'evaluate the file tools/train.py saved']),
])
def test_test_tool_refuses_bad_checkpoints(tmp_path, tiny_coco, checkpoints, name, says):
    res = run_test_tool(checkpoints / f'{name}.pth', '--data-root', tiny_coco,
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
    line = assert_one_error(run_tool(*args), *says)
    if case.startswith('auto'):  # the earlier readable file, not the broken one
        assert line.rstrip('.').endswith(f'--resume {work / "iter_2.pth"}'), line


@pytest.mark.parametrize('src, says', [
    ('truncated', ['truncated.pth is truncated or corrupt']),
    ('model', ['model.pth is not in the official key layout of FasterViT, LITv2',
               'it is already converted (our FasterViT layout', 'configs load it as it is']),
])
def test_convert_tool_refuses_bad_files(tmp_path, checkpoints, src, says):
    res = run_tool('tools/model_converters/convert_official_checkpoint.py',
                   checkpoints / f'{src}.pth', tmp_path / 'out.pth')
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
    res = run_test_tool(checkpoints / 'model.pth', '--data-root', root, '--work-dir', tmp_path,
                    '--cfg-options', *FLOAT_IMAGES)
    assert_one_error(res, f'FasterViT input holds NaN in {nan_file} (test iteration 2, batch '
                     'element 0 of 1)', 'to let such values through: --no-check-finite')


@pytest.mark.slow
def test_no_check_finite_lets_the_test_tool_finish(tmp_path, coco_with_nan_image, checkpoints):
    root, _ = coco_with_nan_image
    res = run_test_tool(checkpoints / 'model.pth', '--data-root', root, '--work-dir', tmp_path,
                    '--no-check-finite', '--cfg-options', *FLOAT_IMAGES)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'test results:' in res.stdout



def test_demo_stops_with_the_failing_tools_error(tmp_path):
    res = run_tool('tools/demo.py', 'coco', '--data-root', tmp_path / 'data', '--work-dir',
               tmp_path / 'work', '--cfg-options', 'model.backbone.arch=9')
    assert_one_error(res, 'model.backbone: unknown FasterViT arch 9; choose one of')
    assert '[2/4] training' in res.stdout and '[3/4]' not in res.stdout


# ------------------------------------------------------------ tools: train and test
def test_missing_dataset_fails_at_once_with_a_fix(tmp_path):
    res = run_tool('tools/train.py', DEMO_COCO, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', 'train_dataloader.dataset.data_root=/no/such/coco/')
    assert res.returncode == 2, res.stderr
    err = res.stderr
    assert 'error: train_dataloader: CocoDataset needs /no/such/coco/annotations/' in err
    assert 'make_synthetic_coco.py /no/such/coco' in err and 'Traceback' not in err
    assert not (tmp_path / 'w').exists()  # nothing was built


def test_unknown_variant_fails_at_once(tmp_path, tiny_coco_seed3):
    res = run_tool('tools/train.py', DEMO_COCO, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', 'model.backbone.arch=9',
                   f'train_dataloader.dataset.data_root={tiny_coco_seed3}/')
    assert res.returncode == 2
    assert re.search(r"error: model\.backbone: unknown FasterViT arch '?9'?;", res.stderr)
    assert "'4-21k-224'" in res.stderr and not (tmp_path / 'w').exists()


def test_num_workers_0_without_its_companion_setting_fails_at_once(tmp_path, tiny_coco_seed3):
    """The README's debugging switch alone (the mmdet bases keep
    persistent_workers=True) used to end in PyTorch's traceback."""
    res = run_tool('tools/train.py', DEMO_COCO, '--data-root', tiny_coco_seed3, '--work-dir',
                   tmp_path / 'w', '--cfg-options', 'train_dataloader.num_workers=0')
    assert_one_error(res, 'train_dataloader: persistent_workers=True needs data-loading',
                     'train_dataloader.persistent_workers=False')
    assert not (tmp_path / 'w').exists()


def test_missing_checkpoint_in_test_tool(tmp_path, tiny_coco_seed3):
    res = run_tool('tools/test.py', DEMO_COCO, str(tmp_path / 'nope.pth'),
                   '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', f'test_dataloader.dataset.data_root={tiny_coco_seed3}/')
    assert res.returncode == 2 and "checkpoint '" in res.stderr and 'does not exist' in res.stderr


def test_missing_imagenet_checkpoint_fails_at_once(tmp_path, tiny_coco_seed3):
    """Run in an empty folder: the config's relative checkpoints/ path is
    missing whatever the checkout's checkpoints/ holds."""
    empty = tmp_path / 'cwd'
    empty.mkdir()
    res = run_tool('tools/train.py', os.path.join(ROOT, 'configs/cascade_fastervit_t.py'),
                   '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_coco_seed3}/',
                   f'val_dataloader.dataset.data_root={tiny_coco_seed3}/', cwd=empty)
    assert res.returncode == 2
    assert "model.backbone.init_cfg checkpoint (download the official file" in res.stderr
    assert "'checkpoints/fastervit_2_224_1k.pth.tar' does not exist" in res.stderr
    assert not (tmp_path / 'w').exists()


def test_tools_catch_a_wrong_litv2_arch_at_once(tmp_path):
    """tools/train.py's preflight names the valid LITv2 variants before
    anything is built."""
    res = run_tool('tools/train.py', 'configs/mask_rcnn_litv2_s.py',
                   '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   'model.backbone.arch=t', timeout=300)
    assert res.returncode == 2
    assert "error: model.backbone: unknown LITv2 arch 't'; choose one of ['b', 'm', 's']" \
        in res.stderr
    assert not (tmp_path / 'w').exists()


def test_a_config_that_mmengine_cannot_merge_is_one_error_line(tmp_path):
    """A dict over a base's string (here ``arch``) is mmengine's TypeError
    with its fix (``_delete_=True``), shown as one line naming the file."""
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = '{ROOT}/configs/cascade_fastervit_t.py'\n"
                      "model = dict(backbone=dict(arch=dict(dim=32)))\n")
    res = run_tool('tools/train.py', config, '--work-dir', tmp_path / 'w', timeout=300)
    line = assert_one_error(res, f'{config} cannot be read', '_delete_=True')
    assert 'arch' in line and not (tmp_path / 'w').exists()


def test_demo_never_deletes_a_directory_it_did_not_make(tmp_path):
    data = tmp_path / 'my_real_coco'
    data.mkdir()
    (data / 'precious.json').write_text('{}')
    res = run_tool('tools/demo.py', 'coco', '--data-root', str(data),
                   '--work-dir', str(tmp_path / 'w'))
    assert res.returncode != 0 and 'was not made by this demo' in res.stderr
    assert (data / 'precious.json').exists()

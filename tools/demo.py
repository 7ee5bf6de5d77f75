"""The main job on its embedded default: synthetic data -> train -> evaluate -> picture.

    python tools/demo.py [coco|ade20k] [fastervit|litv2|dino|mask2former]
                         [--work-dir DIR] [--data-root DIR]

``coco`` (default): Cascade Mask R-CNN with a small FasterViT on the synthetic
COCO-layout dataset; prints COCO bbox and segm mAP (pycocotools).
``ade20k``: UPerNet with a small FasterViT on the synthetic ADE20K-layout
dataset; prints mIoU, mAcc, aAcc (mmseg's IoU metric).
The second argument picks the backbone family (default ``fastervit``);
``coco litv2`` trains the same detector with a small LITv2; ``coco dino``
trains a small DINO-4scale with the FasterViT backbone (NVIDIA's detector
recipe) instead; ``coco mask2former`` and ``ade20k mask2former`` train a
reduced Mask2Former (instance / semantic) with the small FasterViT.

Every step runs the project's own tools (tools/train.py, tools/test.py, ...),
so this is also what a user does with real data.

A finished run leaves ``FINGERPRINT`` in its work dir: a hash of what made
its outputs (see :func:`fingerprint`). The test suite reuses the outputs of
``bash tools/demo.sh`` while the hash still matches, and trains again when not.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

TASKS = {
    'coco': dict(
        config='configs/demo/cascade_{backbone}_synthetic_coco.py',
        backbones=('fastervit', 'litv2', 'dino', 'mask2former'),
        configs=dict(dino='configs/demo/dino_fastervit_synthetic_coco.py',
                     mask2former='configs/demo/mask2former_fastervit_synthetic_coco.py'),
        data_root='data/synthetic_coco',
        make=['tools/dataset_converters/make_synthetic_coco.py'],
        sample='val2017/000001000001.jpg',
        sample_gt='annotations/instances_val2017.json'),
    'ade20k': dict(
        config='configs/demo/upernet_{backbone}_synthetic_ade20k.py',
        backbones=('fastervit', 'mask2former'),
        configs=dict(mask2former='configs/demo/mask2former_fastervit_synthetic_ade20k.py'),
        data_root='data/synthetic_ade20k/ADEChallengeData2016',
        make=['tools/dataset_converters/make_synthetic_ade20k.py'],
        sample='images/validation/ADE_val_00000001.jpg',
        sample_gt='annotations/validation/ADE_val_00000001.png'),
}


MARKER = '.made-by-mmfastervit-demo'
FINGERPRINT = 'demo-fingerprint.json'
#: what the demo's outputs are made by: the package, every config (bases
#: included), the tools it runs (and this script)
SOURCES = ('mmfastervit', 'configs', 'tools')
LIBRARIES = ('torch', 'mmcv', 'mmengine', 'mmdet', 'mmseg')


def _files(tops, endings=('',)):
    """Files under each of ``tops`` (relative to the checkout) ending in one of
    ``endings``; hidden folders (e.g. the editable install's ``.mim`` copy)
    and ``__pycache__`` left out."""
    for top in tops:
        for folder, dirs, names in os.walk(osp.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith('.') and d != '__pycache__']
            yield from (osp.join(folder, n) for n in names if n.endswith(endings))


def _hash_files(paths, digest) -> None:
    for path in sorted(paths):
        digest.update(osp.relpath(path, ROOT).encode() + b'\0')
        with open(path, 'rb') as f:
            digest.update(hashlib.sha256(f.read()).digest())


def fingerprint(argv, data_root: str) -> str:
    """A hash of everything a demo run's outputs depend on: the command-line
    arguments, the sources in the checkout (``SOURCES``: every .py and .sh
    file), the installed libraries' versions (``LIBRARIES``), and the
    synthetic dataset's files as they are now. A run's outputs belong to
    the checkout while the fingerprint it recorded equals this one; any
    change to these makes them stale."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(json.dumps(list(argv)).encode())
    for name in LIBRARIES:
        try:
            digest.update(f'{name}=={version(name)}'.encode())
        except PackageNotFoundError:
            digest.update(f'{name} missing'.encode())
    _hash_files(_files(SOURCES, ('.py', '.sh')), digest)
    _hash_files(_files([data_root]), digest)
    return digest.hexdigest()


def fresh_dir(path: str) -> None:
    """Empty ``path`` for a new run, but only if an earlier demo made it: a
    directory without the marker is somebody's data and is never deleted."""
    if osp.isdir(path) and os.listdir(path):
        if not osp.isfile(osp.join(path, MARKER)):
            print(f'error: {path} exists and was not made by this demo; '
                  'pick another --work-dir / --data-root or remove it yourself', file=sys.stderr)
            sys.exit(2)
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
    open(osp.join(path, MARKER), 'w').close()


def finished_run(work_dir: str, argv=()) -> Optional[dict]:
    """The record (``argv``, ``data_root``, ``fingerprint``) of a finished
    demo run with arguments ``argv`` in ``work_dir``, if it is not stale
    (its fingerprint, computed again now, is the same); else None."""
    path = osp.join(work_dir, FINGERPRINT)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        made = json.load(f)
    if made.get('argv') != list(argv) or not osp.isdir(made.get('data_root', '')):
        return None
    return made if made.get('fingerprint') == fingerprint(argv, made['data_root']) else None


def step(n: int, total: int, text: str) -> None:
    print(f'\n[{n}/{total}] {text}', flush=True)


def run(args) -> None:
    """Run one of our tools; if it fails (it has printed why), stop with its
    exit code."""
    print('$ ' + ' '.join(args), flush=True)
    code = subprocess.run([sys.executable, *args], cwd=ROOT).returncode
    if code:
        sys.exit(code)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('task', nargs='?', default='coco', choices=sorted(TASKS))
    parser.add_argument('backbone', nargs='?', default='fastervit',
                        choices=sorted({b for t in TASKS.values() for b in t['backbones']}))
    parser.add_argument('--work-dir', help='default: work_dirs/demo_<task>')
    parser.add_argument('--data-root', help='where the synthetic dataset is written')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra config overrides for training and testing')
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)

    task = TASKS[args.task]
    if args.backbone not in task['backbones']:
        parser.error(f'the {args.task} demo has backbones {", ".join(task["backbones"])}')
    config = task.get('configs', {}).get(args.backbone) or task['config'].format(
        backbone=args.backbone)
    root = args.data_root or task['data_root']
    suffix = '' if args.backbone == 'fastervit' else f'_{args.backbone}'
    work_dir = args.work_dir or f'work_dirs/demo_{args.task}{suffix}'
    options = ['--data-root', root]
    if args.cfg_options:
        options += ['--cfg-options', *args.cfg_options]
    start = time.time()

    step(1, 4, f'writing the synthetic dataset to {root}')
    fresh_dir(root)
    run([*task['make'], root])

    step(2, 4, f'training {config} (logs and checkpoints in {work_dir})')
    fresh_dir(work_dir)
    run(['tools/train.py', config, '--work-dir', work_dir, *options])
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        checkpoint = osp.join(ROOT, work_dir, osp.basename(f.read().strip()))

    step(3, 4, f'evaluating {osp.relpath(checkpoint, ROOT)} on the held-out images')
    run(['tools/test.py', config, checkpoint, '--work-dir', work_dir, *options])

    step(4, 4, 'drawing predictions (right) beside the ground truth (left) on a held-out image')
    picture = osp.join(work_dir, 'predictions.png')
    run(['tools/analysis_tools/show_predictions.py', config, checkpoint,
         osp.join(root, task['sample']), '--gt', osp.join(root, task['sample_gt']),
         '--out', picture])

    from tools.analysis_tools.learning_curve import format_curve, read_curve
    print('\nLearning curve (held-out images):')
    print(format_curve(read_curve(osp.join(ROOT, work_dir))))
    with open(osp.join(ROOT, work_dir, FINGERPRINT), 'w') as f:  # last: only a whole run
        json.dump(dict(argv=argv, data_root=osp.abspath(osp.join(ROOT, root)),
                       fingerprint=fingerprint(argv, root)), f, indent=1)
    print(f'\nDone in {(time.time() - start) / 60:.1f} min. Picture: {picture}')
    return 0


if __name__ == '__main__':
    os.chdir(ROOT)
    sys.exit(main())

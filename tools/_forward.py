"""Old tool paths, kept working for one release: ``tools/export_onnx.py`` and
the like were grouped into ``tools/<group>/`` (see CONTRIBUTING.md); each
old file forwards here. Run as a script, the moved tool runs with the same
arguments; imported (``from tools.export_onnx import main``), the old module
holds the moved one's names."""
import os.path as osp
import runpy
import sys


def forward(name: str, moved: str, namespace: dict) -> None:
    """Run ``tools/<moved>`` as ``__main__`` (``name == '__main__'``) or copy
    its public names into ``namespace`` (an import of the old module)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), moved)
    if name == '__main__':
        sys.argv[0] = path
        runpy.run_path(path, run_name='__main__')
    else:
        namespace.update({k: v for k, v in runpy.run_path(path, run_name=name).items()
                          if not k.startswith('__')})

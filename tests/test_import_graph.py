"""The package's imports run one way: each subpackage imports only its own
modules and those of lower layers (low-level helpers never reach up to the
models, the tools' layer or the package's ``__init__``), no module takes part
in an import cycle, and library code never imports the test-only reference,
the tests, the benchmarks or the command-line tools. Read from the sources
(every ``import``, function-level ones included), not from what one run
happens to import."""
import ast
import os
from collections import defaultdict

from support.tool_runs import ROOT

PACKAGE = os.path.join(ROOT, 'mmfastervit')
#: lowest first; a subpackage may import its own layer's and lower ones
LAYERS = [
    {'errors', 'utils'},
    {'cpu', 'checkpoint'},
    {'models', 'datasets'},
    {'engine', 'export', 'configs'},
    {'cli'},
    {'__init__'},
]
#: never imported by library code: test-only or checkout-only
FORBIDDEN = ('fastervit', 'tests', 'support', 'benchmarks', 'tools')


def modules():
    """``{dotted name: (path, is_package)}`` of the package's sources."""
    found = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]  # .mim: shipped files
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                found[dotted.removesuffix('.__init__')] = (path, name == '__init__.py')
    return found


def imports(name, path, is_package, known=()):
    """Every module name ``name`` imports (relative imports resolved;
    ``from package import module`` is an import of that module alone)."""
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split('.') if is_package else name.split('.')[:-1]
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [f'{target}.{alias.name}' for alias in node.names]
            yield from (n for n in names if n in known)
            if not all(n in known for n in names):
                yield target


def graph():
    mods = modules()
    edges = defaultdict(set)
    outside = defaultdict(set)
    for name, (path, is_package) in mods.items():
        for target in imports(name, path, is_package, mods):
            if target in mods and target != name:
                edges[name].add(target)
            elif target.split('.')[0] in FORBIDDEN:
                outside[name].add(target)
    return mods, edges, outside


def layer(module):
    part = module.split('.')[1] if '.' in module else '__init__'
    return next(i for i, names in enumerate(LAYERS) if part in names), part


def test_every_subpackage_has_a_layer():
    parts = {m.split('.')[1] for m in modules() if '.' in m}
    assert parts <= set().union(*LAYERS), parts - set().union(*LAYERS)


def test_no_import_reaches_a_higher_layer():
    _, edges, _ = graph()
    upward = sorted(f'{a} -> {b}' for a, targets in edges.items() for b in targets
                    if layer(b)[0] > layer(a)[0])
    assert not upward, upward


def test_no_import_cycle():
    mods, edges, _ = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in mods:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_library_code_imports_nothing_test_only():
    _, _, outside = graph()
    assert not outside, dict(outside)


def test_the_checks_see_real_imports():
    """The graph is not empty by mistake: known edges are found."""
    _, edges, _ = graph()
    fmt = edges['mmfastervit.models.fastervit.checkpoint_format']
    assert 'mmfastervit.checkpoint.format' in fmt
    assert 'mmfastervit.checkpoint.io' in edges['mmfastervit.checkpoint.mmengine_loader']

"""Project-level checks: the package works when installed, the notebook checks catch drift, README agrees."""

import ast
import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from helpers import once_per_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='session')
def installed_python(tmp_path_factory) -> Path:
    """A fresh virtual environment with the package installed from a wheel (one for all pytest-xdist workers); its
    dependencies come from this environment."""
    return Path(once_per_run(tmp_path_factory, 'installed', install_from_wheel))


def install_from_wheel(tmp: Path) -> str:
    """Make a virtual environment in `tmp` with the package installed from a wheel; return its python."""
    subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '-q',
            '--no-deps',
            '--no-build-isolation',
            '-w',
            str(tmp / 'dist'),
            str(ROOT),
        ],
        check=True,
    )
    venv.create(tmp / 'venv', with_pip=True)
    py = tmp / 'venv' / 'bin' / 'python'
    purelib = subprocess.run(
        [str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / 'dependencies.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    wheel = next((tmp / 'dist').glob('deepearth_training-*.whl'))
    subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', '--force-reinstall', str(wheel)], check=True)
    return str(py)


def outside_env() -> dict:
    """This environment without PYTHONPATH, which would put a checkout before the installed package."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


def test_installed_package_imports_outside_the_repository(installed_python, tmp_path):
    code = (
        'import deepearth_training, deepearth_training.ids as ids, deepearth_training.geo as geo;'
        'assert "site-packages" in deepearth_training.__file__, deepearth_training.__file__;'
        'assert ids.parse_observation_id(ids.create_observation_id(4171912265, 2)) == (4171912265, 2);'
        'print(round(float(geo.geodesic_km(0, 0, 1, 0)), 3))'
    )
    out = subprocess.run(
        [str(installed_python), '-c', code], cwd=tmp_path, env=outside_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == '110.574'


def test_installed_package_does_not_import_nbdev(installed_python, tmp_path):
    code = 'import sys, deepearth_training.ids, deepearth_training.geo; assert "nbdev" not in sys.modules and "fastcore" not in sys.modules'
    subprocess.run([str(installed_python), '-c', code], cwd=tmp_path, env=outside_env(), check=True)


def _copy_tree(tmp_path: Path) -> Path:
    """A scratch git copy of the repository's tracked and untracked files."""
    dest = tmp_path / 'repo'
    files = subprocess.run(
        ['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split('\n')
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            (dest / f).write_bytes((ROOT / f).read_bytes())
    subprocess.run(['git', 'init', '-q'], cwd=dest, check=True)
    return dest


def _check(repo: Path) -> subprocess.CompletedProcess:
    """Run tools/check_notebooks.sh on `repo` with this environment's nbdev commands first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        ['bash', str(ROOT / 'tools' / 'check_notebooks.sh'), str(repo)], capture_output=True, text=True, env=env
    )


def test_notebook_check_passes_on_this_tree(tmp_path):
    result = _check(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stderr


def test_notebook_check_fails_when_a_notebook_is_edited_without_export(tmp_path):
    repo = _copy_tree(tmp_path)
    nb_path = repo / 'nbs' / '00_ids.ipynb'
    nb = json.loads(nb_path.read_text())
    cell = next(c for c in nb['cells'] if ''.join(c['source']).startswith('#| export\ndef create_observation_id'))
    cell['source'] = [''.join(cell['source']).replace('Build the observation ID', 'Make the observation ID')]
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    result = _check(repo)
    assert result.returncode != 0 and 'drifted' in result.stderr and 'ids.py' in result.stderr


def test_notebook_check_fails_on_an_unclean_notebook(tmp_path):
    repo = _copy_tree(tmp_path)
    nb_path = repo / 'nbs' / '02_geo.ipynb'
    nb = json.loads(nb_path.read_text())
    next(c for c in nb['cells'] if c['cell_type'] == 'code')['execution_count'] = 7
    nb_path.write_text(json.dumps(nb, indent=1) + '\n')
    result = _check(repo)
    assert result.returncode != 0 and 'not clean' in result.stderr


def test_readme_agrees_with_index_notebook():
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'readme.py'), '--check'], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def package_imports() -> dict[str, tuple[int, set[str]]]:
    """Every package module: (its notebook's number, the package modules it imports anywhere, function bodies included)."""
    import ast
    import re

    modules = {p.stem: p for p in (ROOT / 'deepearth_training').glob('*.py') if p.stem not in ('__init__', '_modidx')}
    out = {}
    for name, path in modules.items():
        text = path.read_text()
        m = re.search(r'File to edit: \.\./nbs/(\d+)([a-z]?)_', text)
        number = (int(m[1]), m[2])  # 38a sorts between 38 and 39
        deps = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
        out[name] = (number, deps & set(modules))
    return out


def test_the_package_imports_itself_only_relatively():
    """Every package-internal import is relative, so the checks below, which read relative imports, see them all."""
    absolute = [
        f'{name}: line {node.lineno}'
        for name, tree in module_trees().items()
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or '').startswith('deepearth_training')
        )
        or (isinstance(node, ast.Import) and any(a.name.startswith('deepearth_training.') for a in node.names))
    ]
    assert not absolute, 'absolute imports of the package inside it:\n' + '\n'.join(absolute)


def test_imports_flow_one_way_by_notebook_number():
    """foundations → data → split → training → apps: a module imports only modules of lower-numbered notebooks, so the
    import graph, function-level imports included, has no cycle."""
    graph = package_imports()
    upward = [(m, d) for m, (n, deps) in graph.items() for d in deps if graph[d][0] >= n]
    assert not upward, f'modules importing a module of an equal or higher notebook number: {upward}'
    numbers = [n for n, _ in graph.values()]
    assert len(numbers) == len(set(numbers)), 'two modules come from notebooks with the same number'


def module_trees() -> dict[str, ast.Module]:
    """{module name: its parsed source} for every package module."""
    return {
        p.stem: ast.parse(p.read_text())
        for p in sorted((ROOT / 'deepearth_training').glob('*.py'))
        if p.stem not in ('__init__', '_modidx')
    }


def package_name_imports(tree) -> list[tuple[str, str, str]]:
    """(home module, imported name, name bound here) for each `from <package module> import name` in `tree`,
    function bodies included."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out += [(node.module, a.name, a.asname or a.name) for a in node.names]
    return out


def dunder_all(tree) -> list[str]:
    """The names a module's `__all__` lists (empty when it has none)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in node.targets):
            return [e.value for e in node.value.elts]
    return []


def used_names(tree) -> set[str]:
    """Every name a module reads or writes outside its import statements."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def test_no_module_re_exports_a_name_of_another_module():
    """A name has one home: a module lists in `__all__`, or imports without using, no name defined in another
    package module."""
    offenders = []
    for name, tree in module_trees().items():
        listed, used = set(dunder_all(tree)), used_names(tree)
        for home, imported, bound in package_name_imports(tree):
            if bound in listed or bound not in used:
                offenders.append(f'{name}: {imported} (defined in {home})')
    assert not offenders, f'{len(offenders)} re-exported names:\n' + '\n'.join(offenders)


def test_no_module_imports_a_private_name_of_another_module():
    offenders = [
        f'{name}: {imported} from {home}'
        for name, tree in module_trees().items()
        for home, imported, _ in package_name_imports(tree)
        if imported.startswith('_') and not imported.startswith('__')
    ]
    assert not offenders, "imports of another module's private names:\n" + '\n'.join(offenders)


SPLIT_LAYER = (
    'geo',
    'split_spec',
    'autocorr',
    'split_report',
    'regions',
    'holdout',
    'knndm',
    'splitters',
    'split',
    'maps',
    'cv',
    'split_command',
)
TORCH_CHAINS = """
import json, sys, traceback
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == 'torch':
            files = [s.filename for s in traceback.extract_stack() if '/deepearth_training/' in s.filename]
            chain.append(' -> '.join(dict.fromkeys(f.rsplit('/', 1)[-1][:-3] for f in files)))
            raise ImportError('torch blocked')
sys.meta_path.insert(0, Block())
chains = {}
for m in MODULES:
    chain = []
    try:
        __import__(f'deepearth_training.{m}')
    except ImportError:
        pass
    chains[m] = chain[0] if chain else ''
    for name in [n for n in sys.modules if n.startswith('deepearth_training.')]:
        del sys.modules[name]
print(json.dumps(chains))
"""


def test_the_split_layer_does_not_import_torch(tmp_path):
    code = (
        'import ' + ', '.join(f'deepearth_training.{m}' for m in SPLIT_LAYER) + '; import sys; '
        "assert 'torch' not in sys.modules"
    )
    if subprocess.run([sys.executable, '-c', code], cwd=tmp_path).returncode == 0:
        return
    diagnose = f'MODULES = {SPLIT_LAYER!r}\n' + TORCH_CHAINS  # each module imported with torch blocked
    r = subprocess.run([sys.executable, '-c', diagnose], cwd=tmp_path, capture_output=True, text=True, check=True)
    offenders = [f'{m}: {chain}' for m, chain in json.loads(r.stdout).items() if chain]
    pytest.fail('split-layer modules that import torch (import chain):\n' + '\n'.join(offenders), pytrace=False)

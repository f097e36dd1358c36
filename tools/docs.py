"""Build the documentation site with Sphinx (myst-nb, sphinx-book-theme) from nbdev's processed notebooks.

nbdev's `proc_nbs` (the core of `nbdev_proc_nbs`) writes the notebooks as `nbdev_docs` would give them to Quarto (show_doc entries rendered,
export cells hidden) into _proc/; this script turns those into Sphinx sources (front matter to a title, cell
options to myst-nb tags, show_doc signatures to parameter tables, nbdev's doc links to relative ones, folium
maps made offline) and runs sphinx-build with execution off, so pages show the saved outputs.
Usage: python tools/docs.py [--out _docs]   (tools/docs.sh runs it in .venv)
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from nbdev.config import get_config
from nbdev.doclinks import _build_modidx
from nbdev.serve import proc_nbs

from deepearth_training.webassets import find_leaflet, offline_iframes

ROOT = Path(__file__).resolve().parent.parent
CFG = get_config(path=ROOT)
SITE = f"{CFG.doc_host.rstrip('/')}{CFG.doc_baseurl.rstrip('/')}/"
SIG = re.compile(r'```python\n((?:async def|def|class) ([\w.]+))\(\n?(.*?)\n?\)([^\n]*)\n```', re.S)
TAGS = {'echo: false': 'remove-input', 'output: false': 'remove-output', 'include: false': 'remove-cell'}


def page_name(nb: dict, path: Path) -> str:
    """The page stem nbdev gives a notebook: its front matter's output-file, else its name without `NN_`."""
    front = (
        yaml.safe_load(''.join(nb['cells'][0]['source']).strip().strip('-'))
        if nb['cells'][0]['cell_type'] == 'raw'
        else {}
    )
    return Path((front or {}).get('output-file') or re.sub(r'^\d+_', '', path.stem)).stem


def split_params(body: str) -> list[tuple[str, str]]:
    """(parameter code, docments comment) per parameter of a show_doc signature body, split at top-level commas."""
    out = []
    for line in body.splitlines():
        code, _, doc = line.partition(' # ')
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(code):
            depth += ch in '([{' and 1 or ch in ')]}' and -1 or 0
            if ch == ',' and depth == 0:
                parts.append(code[start:i])
                start = i + 1
        parts.append(code[start:])
        parts = [p.strip() for p in parts if p.strip()]
        out += [(p, doc.strip() if i == len(parts) - 1 else '') for i, p in enumerate(parts)]
    return out


def param_table(m: re.Match) -> str:
    """A show_doc signature block as a one-line signature plus a Parameter/Type/Default/Details table."""
    params = split_params(m[3])
    sig = f"```python\n{m[1]}({', '.join(p for p, _ in params)}){m[4]}\n```"
    if not params:
        return sig
    cell = lambda s: s.replace('|', '\\|')
    rows = []
    for code, doc in params:
        name, _, default = code.partition('=')
        name, _, typ = name.partition(':')
        rows.append(
            f"| `{cell(name.strip())}` | {f'`{cell(typ.strip())}`' if typ else ''} | "
            f"{f'`{cell(default.strip())}`' if default else ''} | {cell(doc)} |"
        )
    return sig + '\n\n| Parameter | Type | Default | Details |\n|---|---|---|---|\n' + '\n'.join(rows) + '\n'


def fix_markdown(text: str, pages: dict[str, str]) -> str:
    """nbdev's absolute doc links and links to notebooks made relative; show_doc entries with nbdev's anchors."""
    text = text.replace(SITE, '')
    text = re.sub(r'^---\s*$', '', text, flags=re.M)  # show_doc's rule: a transition docutils allows only at top level
    text = re.sub(r'\[source\]\((\S+?)\)\{[^}]*\}', r'<a class="source-link" href="\1">source</a>', text)
    text = re.sub(r'\]\(([\w-]+)\.ipynb', lambda m: '](' + pages.get(m[1], m[1]) + '.html', text)
    text = re.sub(
        r'^(#{2,4}) ([\w.]+)\s*$', lambda m: f'<a id="{m[2].lower()}"></a>\n\n{m[1]} {m[2]}', text, flags=re.M
    )
    return SIG.sub(param_table, text)


def convert(nb: dict, pages: dict[str, str], leaflet: Path | None) -> dict:
    """A processed notebook made ready for myst-nb (see the module docstring)."""
    cells = nb['cells']
    if cells and cells[0]['cell_type'] == 'raw':
        front = yaml.safe_load(''.join(cells[0]['source']).strip().strip('-')) or {}
        head = f"# {front.get('title', '')}\n\n" + (f"> {front['description']}\n" if front.get('description') else '')
        cells[0] = {'cell_type': 'markdown', 'metadata': {}, 'source': head}
    for c in cells:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            c['source'] = fix_markdown(src, pages)
            continue
        if c['cell_type'] != 'code':
            continue
        opts = [l[2:].strip() for l in src.splitlines() if l.startswith('#|')]
        c['metadata']['tags'] = [TAGS[o] for o in opts if o in TAGS]
        c['source'] = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
        for o in c.get('outputs', []):
            data = o.get('data', {})
            data.pop('application/vnd.jupyter.widget-view+json', None)
            if 'text/markdown' in data:
                data['text/markdown'] = fix_markdown(''.join(data['text/markdown']), pages)
            if 'text/html' in data:
                data['text/html'] = offline_iframes(''.join(data['text/html']), leaflet)
    nb['metadata'].pop('widgets', None)
    nb['nbformat_minor'] = 4  # cells without ids are valid in 4.4
    return nb


def toctree(pages: dict[str, str]) -> str:
    """The site's navigation: the sections of nbs/sidebar.yml, then any notebook it does not list."""
    side = yaml.safe_load((ROOT / CFG.nbs_path / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    sections, listed = [], set()
    for entry in side:
        if isinstance(entry, dict) and 'section' in entry:
            names = [Path(e).stem for e in entry.get('contents') or [] if isinstance(e, str) and Path(e).stem in pages]
            sections.append((entry['section'], names))
            listed.update(names)
    rest = [n for n in pages if n not in listed and n != 'index']
    if rest:
        sections.append(('More', rest))
    return ''.join(
        f"\n```{{toctree}}\n:hidden:\n:caption: {title}\n\n" + '\n'.join(pages[n] for n in names) + '\n```\n'
        for title, names in sections
        if names
    )


def build_sources(proc: Path, src: Path) -> dict[str, str]:
    """Sphinx sources in `src` from the processed notebooks in `proc`; returns {notebook stem: page stem}."""
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(proc, src, ignore=shutil.ignore_patterns('*.ipynb', '*.yml', '_*', '.*'))
    nbs = sorted(
        p for p in proc.rglob('*.ipynb') if not any(s.startswith(('_', '.')) for s in p.relative_to(proc).parts)
    )
    loaded = {p: json.loads(p.read_text(encoding='utf-8')) for p in nbs}
    pages = {p.stem: page_name(nb, p) for p, nb in loaded.items()}
    leaflet = find_leaflet()
    for p, nb in loaded.items():
        nb = convert(nb, pages, leaflet)
        if p.stem == 'index':
            nb['cells'].append({'cell_type': 'markdown', 'metadata': {}, 'source': toctree(pages)})
        (src / f'{pages[p.stem]}.ipynb').write_text(json.dumps(nb), encoding='utf-8')
        print(f'  {pages[p.stem]}.html <- {(CFG.nbs_path / p.relative_to(proc)).relative_to(ROOT).as_posix()}')
    return pages


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=ROOT / '_docs', help='where to write the site (default: _docs)')
    a = p.parse_args()
    _build_modidx()  # what nbdev_proc_nbs does, without its Quarto install and `pip install -e`
    proc_nbs(ROOT / CFG.nbs_path, n_workers=2)
    for stale in (ROOT / '_proc').glob('*.ipynb'):  # notebooks renamed or removed since the last build
        if not (ROOT / CFG.nbs_path / stale.name).exists():
            stale.unlink()
    src = ROOT / 'build' / 'sphinx_src'
    build_sources(ROOT / '_proc', src)
    out = a.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run(
        [
            sys.executable,
            '-m',
            'sphinx',
            '-b',
            'html',
            '-q',
            '-E',
            '-c',
            str(ROOT / 'tools' / 'sphinx'),
            str(src),
            str(out),
        ],
        cwd=ROOT,
    )
    if r.returncode == 0:
        print(f'site: {out / "index.html"}')
    return r.returncode


if __name__ == '__main__':
    sys.exit(main())

"""Write README.md from nbs/index.ipynb (what nbdev_readme does, without Quarto), or check that they agree.

Markdown cells are copied, code cells become ```python blocks followed by their text outputs;
cells marked `#| hide` are left out, and image links into nbs/ are made relative to the root.
Usage: python tools/readme.py [--check]
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cell_text(cell: dict) -> str:
    """The source of a notebook cell as one string."""
    return ''.join(cell['source'])


def output_text(output: dict) -> str:
    """The plain-text form of one cell output ('' for images and widgets)."""
    if output.get('output_type') == 'stream':
        return ''.join(output['text'])
    return ''.join(output.get('data', {}).get('text/plain', ''))


def render(nb: dict) -> str:
    """The README markdown for the index notebook `nb`."""
    parts = []
    for cell in nb['cells']:
        src = cell_text(cell)
        lines = src.splitlines()
        flags = {w for l in lines if l.startswith('#|') for w in l[2:].split()}
        if 'hide' in flags:
            continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if cell['cell_type'] == 'markdown':
            parts.append(re.sub(r'\]\((?!https?:|#|/)', '](nbs/', body))
        elif body:
            parts.append(f'```python\n{body}\n```')
            out = ''.join(output_text(o) for o in cell.get('outputs', [])).rstrip()
            if out:
                parts.append(f'```\n{out}\n```')
    return '\n\n'.join(parts) + '\n'


def main() -> int:
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text(encoding='utf-8'))
    text, readme = render(nb), ROOT / 'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            print('error: README.md differs from nbs/index.ipynb; run python tools/readme.py', file=sys.stderr)
            return 1
        print('README.md agrees with nbs/index.ipynb')
        return 0
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme.relative_to(ROOT)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

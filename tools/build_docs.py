"""Build the documentation site offline: nbdev processes the notebooks, this script renders them to HTML.

What `nbdev_docs` does with Quarto, without Quarto: every notebook under nbs/ goes through nbdev's
processors (show_doc entries for every exported function and class, cross-reference links, hidden
cells removed) into a cache folder (`_proc/`, reused while a notebook, settings.ini and the module
index are unchanged), then each processed notebook becomes one static page under `_docs/`: the
navigation sidebar from nbs/sidebar.yml, a table of contents, previous/next links, a search box over
titles and headings (API entries included), code, and the saved outputs (tables, plots as images,
folium maps as their HTML). Links to notebooks (`21_split.ipynb`) and to the
published site point at the built pages. With `--offline-assets` (the default) the folium maps load
Leaflet from a local copy under `_docs/_assets/leaflet/` (from the npm package `leaflet` that
tools/install_browser.sh installs) and drop the CDN libraries they do not use, so the site works
without internet (map tiles, which are data, still come from the tile server when online).
The site is built in a temporary folder next to `--out` and renamed into place.

Usage: python tools/build_docs.py [--out _docs] [--proc _proc] [--jobs N] [--no-offline-assets]
"""
import argparse
import hashlib
import html
import json
import multiprocessing
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / 'docs_assets'
LEAFLET_DIRS = [ROOT / 'tools' / 'node_modules' / 'leaflet' / 'dist', ROOT / 'node_modules' / 'leaflet' / 'dist']
ASSET_DIR = '_assets'
SIDEBAR_FILES = {'_quarto.yml', 'nbdev.yml', 'sidebar.yml'}
WIDGET = 'application/vnd.jupyter.widget-view+json'
MIME_ORDER = ['text/html', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/markdown', 'text/latex',
              'text/plain']


class BuildError(Exception):
    """A problem that stops the build, reported as one line."""


# ---------------------------------------------------------------- processing (nbdev's processors, cached)

def _process_one(args):
    """Run nbdev's processors on one notebook and write the result to `dst` (in a worker process)."""
    src, dst = map(Path, args)
    from execnb.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults
    os.environ['IN_TEST'] = '1'
    os.chdir(src.parent)
    nb = read_nb(src)
    main_module = sys.modules['__main__']  # IPython's shell replaces it; the pool needs it for the next task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            FilterDefaults()(nb)
        except Exception as e:
            lines = [l for l in str(e).strip().splitlines() if l.strip() and not l.startswith('#|')]
            first = lines[0] if lines else type(e).__name__
            if len(lines) > 1:  # nbdev's message goes on with the cell's source: show its first line
                first += f' {lines[1].strip()!r}'
            cause = e.__cause__
            why = f' ({type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ""})' if cause else ''
            return str(src), f'{first}{why}', []
        finally:
            sys.modules['__main__'] = main_module
    write_atomic(dst, lambda tmp: write_nb(nb, tmp))
    notes = [f'a cell mixes imports with other code ({str(w.message).split("---")[1].strip().splitlines()[0]!r} ...)'
             for w in caught if 'imports and other code' in str(w.message)]
    return str(src), None, notes


def write_atomic(path: Path, write) -> None:
    """Call `write(tmp)` for a temporary name next to `path`, then rename it to `path`."""
    tmp = path.with_name(f'.{path.name}.tmp-{os.getpid()}')
    write(tmp)
    os.replace(tmp, path)


def _digest(path: Path, extra: bytes) -> str:
    return hashlib.sha256(path.read_bytes() + extra).hexdigest()


def process_notebooks(nbs: Path, proc: Path, jobs: int) -> list[Path]:
    """Process every notebook under `nbs` into `proc` (same relative paths); return the notebooks' paths."""
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    import nbdev
    cfg = get_config()
    notebooks = sorted(nbglob(nbs, func=Path))
    if not notebooks:
        raise BuildError(f'no notebooks found in {nbs}')
    modidx = ROOT / cfg.lib_name / '_modidx.py'
    extra = (Path(cfg.config_file).read_bytes() + (modidx.read_bytes() if modidx.exists() else b'')
             + nbdev.__version__.encode())
    proc.mkdir(parents=True, exist_ok=True)
    cache_file = proc / '.digests.json'
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    todo, digests = [], {}
    for nb in notebooks:
        rel = nb.relative_to(nbs).as_posix()
        digests[rel] = _digest(nb, extra)
        dst = proc / rel
        if cache.get(rel) != digests[rel] or not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            todo.append((str(nb), str(dst)))
    print(f'processing {len(todo)} of {len(notebooks)} notebooks with nbdev ({len(notebooks) - len(todo)} cached)',
          flush=True)
    if todo:
        ctx = multiprocessing.get_context('fork')  # workers run notebook code; each is its own process
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo))), mp_context=ctx) as pool:
            results = list(pool.map(_process_one, todo))
        failed = [(src, err) for src, err, _ in results if err]
        for src, _, notes in results:
            for n in notes:
                print(f'  note: {Path(src).relative_to(ROOT)}: {n} (such a cell runs during the docs build)')
        ok = {Path(src).relative_to(nbs).as_posix() for src, err, _ in results if not err}
        for rel in digests:
            if rel in ok or (cache.get(rel) == digests[rel]):
                cache[rel] = digests[rel]
        cache = {k: v for k, v in cache.items() if k in digests}
        write_atomic(cache_file, lambda tmp: tmp.write_text(json.dumps(cache, indent=1)))
        if failed:
            sys.stdout.flush()
            for src, err in failed[:-1]:
                print(f'error: {Path(src).relative_to(ROOT)}: {err}', file=sys.stderr)
            src, err = failed[-1]
            raise BuildError(f'{Path(src).relative_to(ROOT)}: {err}')
    return notebooks


# ---------------------------------------------------------------- pages and links

def frontmatter(nb: dict) -> dict:
    """The YAML frontmatter that nbdev's processors put in the first raw cell ({} if none)."""
    import yaml
    for cell in nb['cells']:
        src = ''.join(cell['source']) if 'source' in cell else ''
        if cell['cell_type'] == 'raw' and src.strip().startswith('---'):
            body = src.strip().strip('-').strip()
            return yaml.safe_load(body) or {}
    return {}


def page_path(rel_nb: str, fm: dict) -> str:
    """Where a notebook's page goes inside the site (posix path), as Quarto names it."""
    d = posixpath.dirname(rel_nb)
    name = fm.get('output-file') or posixpath.splitext(posixpath.basename(rel_nb))[0] + '.html'
    return posixpath.join(d, name) if d else name


def relpath(target: str, page: str) -> str:
    """`target` (a site path) relative to the folder of `page` (a site path)."""
    return posixpath.relpath(target, posixpath.dirname(page) or '.')


def slug(text: str) -> str:
    """Pandoc's identifier for a heading: lower case, only letters, digits, `_`, `-`, `.`; spaces become `-`."""
    s = re.sub(r'[^\w\s.-]', '', html.unescape(re.sub(r'<[^>]+>', '', text))).strip().lower()
    return re.sub(r'\s+', '-', s)


class Site:
    """The pages of the site: notebook → page path, titles, and how links are rewritten."""

    def __init__(self, nbs: Path, proc: Path, notebooks: list[Path], site_url: str):
        self.site_url = site_url.rstrip("/")
        self.pages = {}  # notebook path relative to nbs -> dict(page, title, description, nb)
        for nb_path in notebooks:
            rel = nb_path.relative_to(nbs).as_posix()
            nb = json.loads((proc / rel).read_text())
            fm = frontmatter(nb)
            self.pages[rel] = dict(page=page_path(rel, fm), title=str(fm.get('title') or Path(rel).stem),
                                   description=str(fm.get('description') or ''), nb=nb)
        self.by_page = {v['page']: k for k, v in self.pages.items()}

    def fix_href(self, href: str, page: str, src_dir: str) -> str:
        """Rewrite one link found on `page` (whose notebook lives in `src_dir`): site URLs and notebooks → pages."""
        if self.site_url and href.startswith(self.site_url + '/'):
            path, _, frag = href[len(self.site_url) + 1:].partition('#')
            path = path or 'index.html'
            if path in self.by_page or path.endswith('.html'):
                return relpath(path, page) + (f'#{frag}' if frag else '')
            return href
        if re.match(r'^[a-z][a-z0-9+.-]*:|^#|^/', href):
            return href
        path, _, frag = href.partition('#')
        if path.endswith('.ipynb'):
            rel = posixpath.normpath(posixpath.join(src_dir, path))
            if rel in self.pages:
                return relpath(self.pages[rel]['page'], page) + (f'#{frag}' if frag else '')
        return href


# ---------------------------------------------------------------- folium maps: offline assets

_TAG = re.compile(r'<script\b[^>]*\bsrc="(?P<js>https?://[^"]+)"[^>]*>\s*</script>|'
                  r'<link\b[^>]*\bhref="(?P<css>https?://[^"]+)"[^>]*/?>', re.I)
_LEAFLET = re.compile(r'/leaflet(@[\d.]+)?/dist/leaflet(\.min)?\.(js|css)$')
_JQUERY = re.compile(r'jquery', re.I)
# CDN libraries folium adds to every map, and what in the map's own script would need them.
_OPTIONAL = [(_JQUERY, re.compile(r'\$\(|jQuery')),
             (re.compile(r'bootstrap', re.I), re.compile(r'bootstrap\.|data-bs-|\bclass="[^"]*\bbtn\b')),
             (re.compile(r'awesome-markers|awesome\.rotate|fontawesome|font-awesome', re.I),
              re.compile(r'AwesomeMarkers|\bfa-[a-z]'))]


class MapRewriter:
    """Point the folium maps' Leaflet at the local copy and drop the CDN libraries they do not use."""

    def __init__(self, assets: str):
        self.assets = assets  # the site's asset folder relative to the page, e.g. '_assets'
        self.local = self.dropped = self.shimmed = 0
        self.kept = set()

    def rewrite_doc(self, doc: str) -> str:
        script = ''.join(re.findall(r'<script>(.*?)</script>', doc, re.S))
        # folium's popups call jQuery only as $(`<html>`)[0]; a ten-line local shim does that
        shim = bool(re.search(r'\$\(`', script)) and not re.search(r'\$\((?!`)|\$\.|jQuery', script)

        def repl(m):
            url = m.group('js') or m.group('css')
            path = url.split('?')[0]
            if _LEAFLET.search(path):
                self.local += 1
                name = 'leaflet.js' if m.group('js') else 'leaflet.css'
                return m.group(0).replace(url, f'{self.assets}/leaflet/{name}')
            if shim and m.group('js') and _JQUERY.search(path):
                self.shimmed += 1
                return m.group(0).replace(url, f'{self.assets}/jquery-shim.js')
            for lib, needed in _OPTIONAL:
                if lib.search(path) and not needed.search(script):
                    self.dropped += 1
                    return ''
            self.kept.add(url)
            return m.group(0)

        return _TAG.sub(repl, doc)

    def rewrite_html(self, out_html: str) -> str:
        """Rewrite every map document embedded as an iframe `srcdoc` in one output's HTML."""
        def repl(m):
            doc = html.unescape(m.group(1))
            if 'L.map(' not in doc:
                return m.group(0)
            return 'srcdoc="' + html.escape(self.rewrite_doc(doc), quote=True) + '"'
        return re.sub(r'srcdoc="([^"]*)"', repl, out_html)


# ---------------------------------------------------------------- rendering

def src_text(cell) -> str:
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')


def directives(src: str) -> tuple[dict, str]:
    """Split the leading `#| key: value` lines of a code cell from its code."""
    lines, d = src.splitlines(), {}
    i = 0
    while i < len(lines) and (lines[i].strip() == '' or _DIRECTIVE.match(lines[i])):
        m = _DIRECTIVE.match(lines[i])
        if m:
            d[m.group(1)] = m.group(2).strip().strip('"\'') or 'true'
        i += 1
    return d, '\n'.join(lines[i:]).strip('\n')


def pandoc_md(md: str) -> str:
    """Turn the Pandoc-only markdown nbdev writes into plain HTML/markdown that mistune renders."""
    md = re.sub(r'\[([^\]]*)\]\(([^)\s]+)\)\{([^}]*)\}', lambda m: f'<a href="{m.group(2)}" {m.group(3)}>{m.group(1)}</a>',
                md)

    def fence(m):  # `::: {.callout-note}` or `::: note` opens a div, a bare `:::` closes it
        spec = m.group(1)
        if not spec:
            return '\n</div>\n'
        classes = ' '.join(re.findall(r'\.([\w-]+)', spec)) if spec.startswith('{') else spec
        return f'\n<div class="{classes}">\n'
    return re.sub(r'^:::+\s*(\{[^}]*\}|[\w-]+)?\s*$', fence, md, flags=re.M)


class Renderer:
    """Renders processed notebook cells to HTML with nbconvert's filters."""

    def __init__(self):
        from nbconvert.filters import ansi2html
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.markdown_mistune import markdown2html_mistune
        self.ansi2html, self.md2html = ansi2html, markdown2html_mistune
        self.highlight = Highlight2HTML(pygments_lexer='ipython3')

    def markdown(self, md: str) -> str:
        return self.md2html(pandoc_md(md))

    def output(self, out: dict, stats: dict, maps: MapRewriter | None, api: bool = False) -> str:
        kind = out.get('output_type')
        if kind == 'stream':
            text = ''.join(out.get('text', ''))
            text = '\n'.join(line.rsplit('\r', 1)[-1] for line in text.split('\n'))  # progress bars: last state
            if not text.strip():
                return ''
            return f'<pre class="cell-output-{out.get("name", "stdout")}">{self.ansi2html(text.rstrip())}</pre>'
        if kind == 'error':
            tb = '\n'.join(out.get('traceback', [])) or f'{out.get("ename")}: {out.get("evalue")}'
            return f'<pre class="cell-output-error">{self.ansi2html(tb)}</pre>'
        data = out.get('data', {})
        if WIDGET in data:  # needs a live kernel: say so instead of printing the widget's repr
            return '<div class="cell-output-widget">An interactive widget: run the notebook in Jupyter to use it.</div>'
        mime = next((m for m in MIME_ORDER if m in data), None)
        if mime is None:
            return ''
        val = data[mime]
        val = ''.join(val) if isinstance(val, list) else val
        if mime == 'text/html':
            if 'L.map(' in val:
                stats['maps'] += 1
                if maps is not None:
                    val = maps.rewrite_html(val)
            return f'<div class="cell-output-display">{val}</div>'
        if mime == 'image/svg+xml':
            stats['images'] += 1
            return f'<div class="cell-output-display">{val}</div>'
        if mime.startswith('image/'):
            stats['images'] += 1
            meta = out.get('metadata', {}).get(mime, {}) or {}
            size = ''.join(f' {k}="{meta[k]}"' for k in ('width', 'height') if k in meta)
            return (f'<div class="cell-output-display"><img src="data:{mime};base64,{val.strip()}"{size} '
                    f'alt="output image"></div>')
        if mime == 'text/markdown':
            md = self.markdown(val)
            if api:  # show_doc's entry: mark its heading so that it gets the plain id
                md = re.sub(r'<h([2-4])\b', r'<h\1 data-api="1"', md)
            return f'<div class="cell-output-display">{md}</div>'
        if mime == 'text/latex':
            return f'<div class="cell-output-display"><pre>{html.escape(val)}</pre></div>'
        return f'<pre class="cell-output-plain">{html.escape(val)}</pre>'

    def cells(self, nb: dict, maps: MapRewriter | None) -> tuple[str, dict]:
        stats = dict(api=0, images=0, maps=0)
        parts = []
        for cell in nb['cells']:
            src = src_text(cell)
            if cell['cell_type'] == 'raw':
                continue
            if cell['cell_type'] == 'markdown':
                if src.lstrip().startswith('<!-- WARNING'):
                    continue
                if re.fullmatch(r'\s*:::+.*', src):  # a fenced div opened/closed in a cell of its own
                    parts.append(pandoc_md(src.strip()))
                    continue
                parts.append(f'<div class="cell markdown">{self.markdown(src)}</div>')
                continue
            d, code = directives(src)
            if d.get('include') == 'false':
                continue
            body = []
            if code and d.get('echo') != 'false':
                hl = self.highlight(code)
                fold = d.get('code-fold')
                if fold in ('show', 'true'):
                    summary = html.escape(d.get('code-summary', 'Code'))
                    hl = f'<details class="code-fold"{" open" if fold == "show" else ""}><summary>{summary}</summary>{hl}</details>'
                body.append(f'<div class="cell-input">{hl}</div>')
            api = bool(re.match(r'\s*show_doc\(', code))
            if d.get('output') != 'false':
                outs = [self.output(o, stats, maps, api) for o in cell.get('outputs', [])]
                outs = [o for o in outs if o]
                if outs:
                    body.append('<div class="cell-output">' + ''.join(outs) + '</div>')
            stats['api'] += api
            if body:
                cls = ' doc' if api else ''
                parts.append(f'<div class="cell code{cls}">' + ''.join(body) + '</div>')
        return '\n'.join(parts), stats


_HEADING = re.compile(r'<h([1-6])((?:\s[^>]*)?)>(.*?)</h\1>', re.S)


def heading_ids(body: str) -> tuple[str, list]:
    """Give headings Pandoc's ids, API entries first (so `page.html#name` lands on the entry, not on a section of
    the same name), keeping other ids as anchors; return the body and its h2–h4 headings (level, id, text)."""
    heads = list(_HEADING.finditer(body))
    texts = [re.sub(r'<a class="anchor-link".*?</a>', '', m.group(3)) for m in heads]
    ids, seen = [None] * len(heads), set()
    for api_first in (True, False):
        for i, m in enumerate(heads):
            if ('data-api' in m.group(2)) != api_first:
                continue
            old = re.search(r'\bid="([^"]*)"', m.group(2))
            new = slug(texts[i]) or (old.group(1) if old else 'section')
            base, k = new, 1
            while new in seen:
                new, k = f'{base}-{k}', k + 1
            seen.add(new)
            ids[i] = new
    toc, out, pos = [], [], 0
    for i, m in enumerate(heads):
        level, attrs, inner, new = m.group(1), m.group(2), m.group(3), ids[i]
        old = re.search(r'\bid="([^"]*)"', attrs)
        attrs = re.sub(r'\s*\b(id|data-api)="[^"]*"', '', attrs)
        extra = ''
        if old and old.group(1) not in seen:  # nbconvert's id (case kept), for links written by hand
            extra = f'<span id="{old.group(1)}"></span>'
            seen.add(old.group(1))
        inner = re.sub(r'href="#[^"]*"', f'href="#{new}"', inner) if 'anchor-link' in inner else inner
        if level in ('2', '3', '4'):
            toc.append((int(level), new, html.unescape(re.sub(r'<[^>]+>', '', texts[i])).strip()))
        out += [body[pos:m.start()], f'{extra}<h{level}{attrs} id="{new}">{inner}</h{level}>']
        pos = m.end()
    out.append(body[pos:])
    return ''.join(out), toc


def sidebar_items(nbs: Path, site: Site) -> tuple[list, list, list]:
    """The sidebar tree from nbs/sidebar.yml: [(kind, ...)], entries missing, notebooks not listed."""
    import yaml
    y = yaml.safe_load((nbs / 'sidebar.yml').read_text()) if (nbs / 'sidebar.yml').exists() else {}
    contents = ((y or {}).get('website', {}).get('sidebar', {}) or {}).get('contents') or []
    missing, listed = [], set()

    def item(e):
        if isinstance(e, str):
            e = {'href': e}
        if 'section' in e:
            kids = [k for k in (item(c) for c in e.get('contents') or []) if k]
            return ('section', str(e['section']), kids)
        href = str(e.get('href', ''))
        if href in site.pages:
            listed.add(href)
            p = site.pages[href]
            return ('page', e.get('text') or p['title'], p['page'])
        if href.startswith(('http://', 'https://')):
            return ('link', e.get('text') or href, href)
        missing.append(href)
        return None
    tree = [t for t in (item(e) for e in contents) if t]
    return tree, missing, sorted(set(site.pages) - listed)


def sidebar_html(tree: list, page: str) -> str:
    def render(items):
        out = []
        for it in items:
            if it[0] == 'section':
                out.append(f'<li class="section"><span class="section-title">{html.escape(it[1])}</span>'
                           f'<ul>{render(it[2])}</ul></li>')
            elif it[0] == 'page':
                cur = ' class="active" aria-current="page"' if it[2] == page else ''
                out.append(f'<li><a href="{relpath(it[2], page)}"{cur}>{html.escape(it[1])}</a></li>')
            else:
                out.append(f'<li><a href="{html.escape(it[2])}">{html.escape(it[1])}</a></li>')
        return ''.join(out)
    return f'<ul>{render(tree)}</ul>'


def sidebar_order(tree: list) -> list:
    """The pages in sidebar order, as (title, page) pairs, for the previous/next links."""
    out = []
    for it in tree:
        if it[0] == 'section':
            out += sidebar_order(it[2])
        elif it[0] == 'page':
            out.append((it[1], it[2]))
    return out


def pager_html(order: list, page: str) -> str:
    pages = [p for _, p in order]
    if page not in pages:
        return ''
    i = pages.index(page)
    prev = (f'<a class="prev" href="{relpath(order[i - 1][1], page)}">← {html.escape(order[i - 1][0])}</a>'
            if i > 0 else '<span></span>')
    nxt = (f'<a class="next" href="{relpath(order[i + 1][1], page)}">{html.escape(order[i + 1][0])} →</a>'
           if i + 1 < len(order) else '<span></span>')
    return f'<nav class="pager" aria-label="Previous and next page">{prev}{nxt}</nav>'


def search_entries(page: str, title: str, toc_all: list) -> list:
    """What the search box finds on one page: its title and every h2–h4 heading (API entries included)."""
    return [dict(t=title, p=title, u=page)] + [dict(t=t, p=title, u=f'{page}#{i}') for _, i, t in toc_all]


def toc_html(toc: list) -> str:
    toc = [t for t in toc if t[0] <= 3]
    if len(toc) < 2:
        return ''
    items = ''.join(f'<li class="toc-h{lvl}"><a href="#{i}">{html.escape(t)}</a></li>' for lvl, i, t in toc)
    return f'<nav class="toc" aria-label="On this page"><h2>On this page</h2><ul>{items}</ul></nav>'


# ---------------------------------------------------------------- the build

def find_leaflet() -> Path | None:
    for d in LEAFLET_DIRS:
        if (d / 'leaflet.js').exists() and (d / 'leaflet.css').exists():
            return d
    return None


def build(out: Path, proc: Path, jobs: int, offline: bool) -> None:
    t0 = time.perf_counter()
    from nbdev.config import get_config
    import jinja2
    from pygments.formatters import HtmlFormatter
    cfg = get_config()
    nbs = Path(cfg.nbs_path)
    leaflet = find_leaflet() if offline else None
    if offline and leaflet is None:
        raise BuildError('Leaflet not found (looked in ' + ', '.join(str(d.relative_to(ROOT)) for d in LEAFLET_DIRS)
                         + '); run `bash tools/install_browser.sh` or pass --no-offline-assets')
    notebooks = process_notebooks(nbs, proc, jobs)
    t_proc = time.perf_counter() - t0
    site = Site(nbs, proc, notebooks, cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/'))
    tree, missing, unlisted = sidebar_items(nbs, site)
    renderer = Renderer()
    template = jinja2.Template((ASSETS / 'page.html').read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-', dir=out.parent))
    try:
        assets = tmp / ASSET_DIR
        assets.mkdir()
        css = (ASSETS / 'site.css').read_text() + '\n' + HtmlFormatter(style='default').get_style_defs('.highlight')
        if (nbs / 'styles.css').exists():
            css += '\n/* nbs/styles.css */\n' + (nbs / 'styles.css').read_text()
        (assets / 'site.css').write_text(css)
        if leaflet is not None:
            shutil.copytree(leaflet, assets / 'leaflet',
                            ignore=shutil.ignore_patterns('*.map', '*.esm.js', 'leaflet-src.js'))
            shutil.copy2(ASSETS / 'jquery-shim.js', assets / 'jquery-shim.js')
        for f in sorted(nbs.rglob('*')):  # images and other files the notebooks link to
            rel = f.relative_to(nbs)
            if (f.is_file() and f.suffix != '.ipynb' and f.name not in SIDEBAR_FILES and f.name != 'styles.css'
                    and not any(p.startswith(('.', '_')) for p in rel.parts)):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, tmp / rel)
        totals = dict(api=0, images=0, maps=0)
        order, search = sidebar_order(tree), []
        lines, maps_all = [], []
        for rel, p in site.pages.items():
            page = p['page']
            maps = MapRewriter(relpath(ASSET_DIR, page)) if leaflet is not None else None
            body, stats = renderer.cells(p['nb'], maps)
            src_dir = posixpath.dirname(rel)
            body = re.sub(r'href="([^"]*)"', lambda m: 'href="' + html.escape(
                site.fix_href(html.unescape(m.group(1)), page, src_dir), quote=True) + '"', body)
            body, toc = heading_ids(body)
            doc = template.render(
                title=p['title'], description=p['description'], site_title=cfg.title, body=body,
                sidebar=sidebar_html(tree, page), toc=toc_html(toc), css=relpath(f'{ASSET_DIR}/site.css', page),
                home=relpath('index.html', page), repo_url=cfg.git_url, source=f'nbs/{rel}',
                source_url=f'{cfg.git_url}/blob/{cfg.branch}/nbs/{rel}', pager=pager_html(order, page),
                search_js=relpath(f'{ASSET_DIR}/search.js', page), index_js=relpath(f'{ASSET_DIR}/search-index.js', page),
                root=relpath('.', page) if '/' in page else '.')
            search += search_entries(page, p['title'], toc)
            dest = tmp / page
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(doc)
            for k in totals:
                totals[k] += stats[k]
            if maps is not None:
                maps_all.append(maps)
            lines.append(f'  {page:<28} <- nbs/{rel:<30} {stats["api"]:>3} API entries, {stats["images"]:>2} images, '
                         f'{stats["maps"]} maps, {dest.stat().st_size / 1024:,.0f} KiB')
        (assets / 'search-index.js').write_text('window.SEARCH_INDEX = ' + json.dumps(search) + ';\n')
        shutil.copy2(ASSETS / 'search.js', assets / 'search.js')
        old = None
        if out.exists():
            old = out.with_name(f'.{out.name}.old-{os.getpid()}')
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f'built {len(site.pages)} pages into {out}:')
    print('\n'.join(lines))
    for m in missing:
        print(f'  warning: nbs/sidebar.yml lists {m}, which is not a notebook in nbs/')
    for u in unlisted:
        print(f'  warning: nbs/{u} is not in nbs/sidebar.yml (its page is built but not in the navigation)')
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file())
    print(f'{totals["api"]} API entries, {totals["images"]} images, {totals["maps"]} maps; '
          f'{size / 2**20:.1f} MiB in {out}')
    if leaflet is not None:
        kept = sorted(set().union(*(m.kept for m in maps_all))) if maps_all else []
        print(f'offline assets: Leaflet from {leaflet.relative_to(ROOT) if leaflet.is_relative_to(ROOT) else leaflet} '
              f'-> {out / ASSET_DIR / "leaflet"}; {sum(m.local for m in maps_all)} links made local, '
              f'{sum(m.dropped for m in maps_all)} unused CDN libraries dropped, '
              f'{sum(m.shimmed for m in maps_all)} jQuery replaced by its one call folium makes'
              + (f'; still loaded from the internet: {", ".join(kept)}' if kept else ''))
    else:
        print('offline assets: off (folium maps load Leaflet from its CDN)')
    print(f'done in {time.perf_counter() - t0:.1f} s (nbdev processing {t_proc:.1f} s); open {out / "index.html"}')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=ROOT / '_docs', help='the site folder to write (default: _docs)')
    p.add_argument('--proc', type=Path, default=ROOT / '_proc', help="nbdev's processed notebooks, a cache (default: _proc)")
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1, help='notebooks processed in parallel')
    p.add_argument('--offline-assets', action=argparse.BooleanOptionalAction, default=True,
                   help='serve Leaflet from _docs/_assets and drop unused CDN libraries from folium maps (default: on)')
    a = p.parse_args(argv)
    os.chdir(ROOT)
    try:
        build(a.out.resolve(), a.proc.resolve(), a.jobs, a.offline_assets)
    except BuildError as e:
        sys.stdout.flush()
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

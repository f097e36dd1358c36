"""Sphinx configuration for the docs site (sources written by tools/docs.py; see there)."""

from pathlib import Path

from nbdev.config import get_config

cfg = get_config(path=Path(__file__).resolve().parents[2])
project = cfg.title
author = cfg.author
copyright = cfg.copyright
release = cfg.version
html_title = cfg.title
extensions = ['myst_nb']
nb_execution_mode = 'off'  # pages show the outputs saved in the notebooks
nb_ipywidgets_js = {}  # widgets need a kernel; their saved text form is shown instead
nb_render_markdown_format = 'myst'  # text/markdown outputs (show_doc) parsed as MyST, with tables
myst_all_links_external = True  # links were made relative by tools/docs.py; keep them as written
myst_enable_extensions = ['colon_fence']
exclude_patterns = ['_build', '**.ipynb_checkpoints']
html_theme = 'sphinx_book_theme'
html_theme_options = {
    'repository_url': cfg.git_url,
    'use_repository_button': True,
    'show_toc_level': 2,
    'navigation_with_keys': False,
}
html_context = {'default_mode': 'light'}
html_favicon = 'static/favicon.svg'
html_static_path = ['static']
html_css_files = ['site.css']
html_show_sourcelink = False
html_copy_source = False
suppress_warnings = ['mystnb.unknown_mime_type', 'misc.highlighting_failure']

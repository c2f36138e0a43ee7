"""The built book reads offline: every asset a page loads (scripts, stylesheets, images, fonts)
comes from the book itself. Checked on a small book built with the project's own _config.yml:
a page with maths and a notebook with the explorer's widget output."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as w
import nbformat
import pytest
from IPython.core.formatters import DisplayFormatter

from pprlib import book
from pprlib.explorer import _add_static_view

pytestmark = pytest.mark.slow

ASSET_TAGS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src", "audio": "src",
              "embed": "src", "object": "data", "link": "href"}
REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)


class Assets(HTMLParser):
    """Every URL a browser fetches to show the page (links a reader may follow are not assets)."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and not set((attrs.get("rel") or "").split()) & {
                "stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "manifest"}:
            return
        name = ASSET_TAGS.get(tag)
        if name and attrs.get(name):
            self.urls.append((tag, attrs[name]))
        for key in ("srcset", "data-jupyter-widgets-cdn"):
            if attrs.get(key):
                self.urls.append((tag, attrs[key]))
        if attrs.get("style"):
            self.urls += [(tag, u) for u in re.findall(r"url\(['\"]?([^'\")]+)", attrs["style"])]


def page_assets(path: Path) -> list[tuple[str, str]]:
    parser = Assets()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.urls


def widget_output() -> tuple[dict, dict]:
    out = w.Output()
    out.outputs = ({"output_type": "display_data", "data": {"text/html": "<table><tr><td>item 7</td></tr></table>"},
                    "metadata": {}},)
    box = w.VBox([w.Dropdown(options=["F", "M"], description="gender"), out])
    _add_static_view(box, ["gender"], out)
    data, _ = DisplayFormatter().format(box)
    state = w.Widget.get_manager_state(drop_defaults=True)
    return data, state


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("offline")
    shutil.copy(book.ROOT / "_config.yml", root / "_config.yml")
    (root / "book").mkdir()
    shutil.copy(book.ROOT / "book" / "references.bib", root / "book" / "references.bib")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/maths\nchapters:\n  - file: book/widget\n")
    (root / "book" / "maths.md").write_text("# Maths\n\nInline $e^{i\\pi} + 1 = 0$ and a display:\n\n"
                                            "$$\n\\mathcal{L} = -\\sum_u \\log \\sigma(s_{u,i} - s_{u,j})\n$$\n")
    data, state = widget_output()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    cell = nbformat.v4.new_code_cell("explorer(...)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Widget"), cell]
    nbformat.write(nb, str(root / "book" / "widget.ipynb"))
    done = subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
                           "-W", "-n", "--keep-going"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "_build" / "html"


def test_no_page_loads_anything_from_outside(built):
    pages = sorted(built.rglob("*.html"))
    assert {p.name for p in pages} >= {"maths.html", "widget.html"}
    remote = [(p.name, tag, url) for p in pages for tag, url in page_assets(p) if REMOTE.match(url)]
    assert remote == []
    css = [(c.name, u) for c in built.rglob("*.css")
           for u in re.findall(r"url\(['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", c.read_text(errors="replace"))
           if REMOTE.match(u[0] or u[1])]
    assert css == []


def test_every_local_asset_exists(built):
    for page in ("book/maths.html", "book/widget.html"):
        for tag, url in page_assets(built / page):
            target = (built / page).parent / url.split("?")[0].split("#")[0]
            assert target.exists(), (page, tag, url)


def test_maths_is_typeset_by_the_bundled_mathjax(built):
    scripts = [url for tag, url in page_assets(built / "book" / "maths.html") if tag == "script"]
    assert any(url.split("?")[0].endswith("_static/mathjax/tex-chtml.js") for url in scripts), scripts
    assert (built / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_the_explorer_shows_a_static_view_instead_of_an_empty_widget_area(built):
    text = (built / "book" / "widget.html").read_text()
    assert "Live explorer" in text and "item 7" in text
    assert "widget-view+json" not in text

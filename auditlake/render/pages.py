"""Self-contained HTML pages from Jinja2 templates: the one environment (autoescape on) and the one stylesheet.

Owns: loading `templates/*.j2` that ship in the package, and `STYLESHEET` (templates/style.css), which
every page includes inline, so a page opens offline from an e-mail attachment: no scripts, fonts or CDN,
nothing fetched. Data reaches HTML only through autoescape; a template never marks data `safe`. Also
`diff_kind`, the one classification of a unified-diff line that HTML, Markdown and terminal share.
Jinja2 is imported on the first page rendered, not when the package is imported.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

TEMPLATES = resources.files("auditlake.render") / "templates"


@functools.cache
def stylesheet() -> str:
    """The one stylesheet (report and history pages alike), as text to inline in `<style>`."""
    return (TEMPLATES / "style.css").read_text(encoding="utf-8")


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment every page is rendered with: HTML autoescape always on, undefined names an error."""
    import jinja2

    loader = jinja2.FunctionLoader(lambda name: (TEMPLATES / name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["thousands"] = "{:,}".format  # 4,847,680
    return env


def render_page(template: str, **context: Any) -> str:
    """`template` (a name under templates/) rendered with `context` and the stylesheet as `style`."""
    return environment().get_template(template).render(style=stylesheet(), **context)


def diff_kind(line: str) -> str:
    """What a unified-diff line is: `add`, `del`, `hunk`, or `` (context), the same for every medium.

    >>> [diff_kind(line) for line in ("+a: 1", "-a: 0", "@@ spec @@", " b: 2")]
    ['add', 'del', 'hunk', '']
    """
    return "add" if line.startswith("+") else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else ""

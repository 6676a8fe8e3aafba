"""Data as text for each medium it reaches, escaped once: CSV cells, Markdown, terminals.

Owns: `csv_text` (no spreadsheet formula), `markdown_text`/`markdown_code`/`markdown_fence` (no HTML,
link, heading or row of the data's own) and `terminal_text` (no escape sequence reaches a terminal).
Audit events are attacker-controlled (user agents, user names, annotations, object names), so every
text output goes through these; HTML is escaped by Jinja2's autoescape (`render.pages`), never by hand.
Imports only the standard library: the CLI calls `terminal_text` for every message it prints.
"""

from __future__ import annotations

import re

# ---- data as text ------------------------------------------------------------------------------------
# What each kind of reader would obey in a string from an audit event, and how it is shown instead.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP "CSV Injection": a spreadsheet evaluates these
CSV_FORMULA_PATTERN = "^([=+\\-@\t\r])"  # the same, as an RE2 pattern for whole Arrow columns
_LINE_BREAKS = re.compile("\r\n|[\t\n\v\f\r\x85\u2028\u2029]")
# C0, DEL, C1, and the bidi controls that reorder the text after them (Trojan Source, CVE-2021-42574)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# HTML as entities; backslash-escaped, the punctuation that opens code, emphasis, links, strikethrough and table cells
_MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "`": "\\`", "*": "\\*",
                                   "[": "\\[", "]": "\\]", "|": "\\|", "~": "\\~"})
# `_` opens or closes emphasis unless a letter or digit is on both sides (CommonMark 6.2): `secret_reads` stays as is
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_BACKTICKS = re.compile("`+")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def csv_text(value: str) -> str:
    r"""A CSV string cell that a spreadsheet shows as text and never evaluates: a formula start gets a `'` first.

    >>> csv_text('=HYPERLINK("http://x","y")')
    '\'=HYPERLINK("http://x","y")'
    >>> csv_text("\t=1"), csv_text("kube-system"), csv_text("")
    ("'\t=1", 'kube-system', '')
    """
    return "'" + value if value.startswith(CSV_FORMULA_STARTS) else value


def terminal_text(value: object) -> str:
    r"""`value` as one line a terminal prints as written: its control characters are shown, never obeyed.

    C0 (TAB, CR and LF too), DEL, C1, the line separators and the bidi controls become `\x1b`-style
    escapes, so `ESC[2J` cannot clear the analyst's screen, and the analyst sees that something was there.

    >>> print(terminal_text("kubectl\x1b[2J\x9b31m\u202eexe.txt\r\n"))
    kubectl\x1b[2J\x9b31m\u202eexe.txt\r\n
    >>> terminal_text("system:serviceaccount:kube-system:default")
    'system:serviceaccount:kube-system:default'
    """
    return _CONTROLS.sub(_visible, str(value))


def markdown_text(value: object) -> str:
    r"""`value` as inline Markdown that renders as written: one line, and no HTML, link, emphasis or table cell of its own.

    Line breaks and tabs become spaces and other control characters visible escapes; `&`, `<` and `>`
    become entities; backslash, backtick, `*`, `[`, `]`, `|`, `~` and an `_` that could start emphasis are
    backslash-escaped. Safe in table cells, headings and list items; ordinary names (`kube-system`,
    `10.0.3.21`, `allowed_users`) are unchanged.

    >>> print(markdown_text("<img src=x> [click](http://evil) *a*|b\r\n## Forged _em_ user_name"))
    &lt;img src=x&gt; \[click\](http://evil) \*a\*\|b ## Forged \_em\_ user_name
    """
    text = _LINE_BREAKS.sub(" ", str(value)).translate(_MARKDOWN_ESCAPES)
    return _CONTROLS.sub(_visible, _EMPHASIS_UNDERSCORE.sub(r"\\_", text))


def markdown_code(value: object, *, in_table: bool = False) -> str:
    r"""`value` as an inline code span that no backtick, line break (or, `in_table`, pipe) in it can end early.

    >>> print(markdown_code("/var/log/audit.log"), markdown_code("a``b"), markdown_code("x|y", in_table=True))
    `/var/log/audit.log` ```a``b``` `x\|y`
    """
    text = _CONTROLS.sub(_visible, _LINE_BREAKS.sub(" ", str(value)))
    if not text:
        return ""
    fence = "`" * (_longest_backtick_run(text) + 1)
    if text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip()):
        text = f" {text} "  # CommonMark strips one space from each side of such a span
    return fence + (text.replace("|", "\\|") if in_table else text) + fence


def markdown_fence(lines: list[str], info: str = "") -> list[str]:
    r"""`lines` as a fenced code block that none of them can close: the fence is longer than any backtick run inside.

    >>> markdown_fence(["+a: '```'"], "diff")
    ['````diff', "+a: '```'", '````']
    """
    body = [_CONTROLS.sub(_visible, line) for line in lines]
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in body), default=0) + 1)
    return [fence + info, *body, fence]

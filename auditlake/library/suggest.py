"""Did-you-mean: the one place that finds the names closest to a mistyped one (difflib), for every error message.

Owns: `close_matches` (the names), `did_you_mean` (an inline ` (did you mean 'x'?)`) and `hint` (a
hint line: `did you mean a, b?`, or what to do when nothing is close). Pure; imports nothing of auditlake.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: object, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The up to `n` names of `choices` closest to `word`, closest first.

    >>> close_matches("severty", ["severity", "title"])
    ['severity']
    """
    return difflib.get_close_matches(str(word), sorted(choices), n=n, cutoff=cutoff)


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest name, or `""`: the tail of a one-line error.

    >>> did_you_mean("severty", {"severity", "title"})
    " (did you mean 'severity'?)"
    """
    close = close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def hint(word: object, choices: Iterable[str], otherwise: str, n: int = 3) -> str:
    """`did you mean a, b?` when names are close to `word`, else `otherwise`: an error's hint."""
    close = close_matches(word, choices, n=n)
    return f"did you mean {', '.join(close)}?" if close else otherwise

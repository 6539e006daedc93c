"""Finding messaging sources among evidence items, from what each registered parser declares.

Nothing here names a format: a parser's ``patterns`` pre-filter by base name (cheap, once per file of
the walk), its ``detect`` decides on the first bytes, and its ``companions`` say which files beside a
source must be kept for it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from functools import lru_cache
from typing import Any

from tessera.evidence.base import last_name
from tessera.messaging.base import PARSERS


def base_name(locator: str) -> str:
    # The last layer, escapes undone: a file "a!b.txt" is shown as "a%21b.txt" in its locator.
    return posixpath.basename(last_name(locator)).lower()


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    return _compiled(PARSERS.name_tuple())


@lru_cache(maxsize=4)
def _compiled(_names: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """One regex for every parser's patterns, one for every companion's base name (rebuilt when a
    parser is registered later, e.g. by an entry point)."""
    own = [fnmatch.translate(p.lower()) for _, parser in PARSERS for p in parser.patterns]
    comp = [
        fnmatch.translate(posixpath.basename(c).replace("{name}", "*").lower())
        for _, parser in PARSERS
        for c in parser.companions
    ]
    never = r"(?!)"
    return re.compile("|".join(own) or never), re.compile("|".join(comp) or never)


# ``base``: the caller's base_name(locator), when it has it (the walk looks at every file several ways).


def maybe_messaging(locator: str, base: str | None = None) -> bool:
    """Could a registered parser claim this file (by its name alone)?"""
    return _patterns()[0].match(base_name(locator) if base is None else base) is not None


def is_companion(locator: str, base: str | None = None) -> bool:
    """Is this file one that some parser reads beside its source?"""
    return _patterns()[1].match(base_name(locator) if base is None else base) is not None


def detect_parser(locator: str, head: bytes, base: str | None = None) -> str | None:
    """The registered parser that claims this file, or None."""
    name = base_name(locator) if base is None else base
    for pname, parser, names in _by_parser(PARSERS.name_tuple()):
        if names.match(name) is not None and parser.detect(locator, head):
            return pname
    return None


@lru_cache(maxsize=4)
def _by_parser(_names: tuple[str, ...]) -> tuple[tuple[str, Any, re.Pattern[str]], ...]:
    # Each parser's patterns as one regex, compiled once: fnmatch per pattern per file cost more than
    # the rest of the walk on trees full of *.db and *.xml (fnmatch.translate: the same matching).
    out = []
    for pname, parser in PARSERS:
        alternatives = "|".join(fnmatch.translate(p.lower()) for p in parser.patterns)
        out.append((pname, parser, re.compile(alternatives or r"(?!)")))
    return tuple(out)

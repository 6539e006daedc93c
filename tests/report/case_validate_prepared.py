"""case-utils' own `case_validate` (its entry point, bundled ontology and defaults), each SPARQL query
prepared once.

pySHACL hands rdflib the same SPARQL text for every focus node of a SPARQL-based shape (CASE has one
on every UcoThing: its IRI should end in a UUID), and rdflib parses it afresh each time: 95 % of
`case_validate`'s time on the demo export (cProfile). Preparing each distinct text once, which is what
rdflib's prepared queries are for, takes that export from about 50 s to 6 s of CPU and changes no
result: tests/report/test_case_uco.py compares this runner with the plain command on a document
that fails.

Usage: python case_validate_prepared.py [case_validate arguments]
"""

from __future__ import annotations

import sys
from typing import Any

from rdflib.plugins.sparql import processor

_prepared: dict[tuple[Any, ...], Any] = {}
_query = processor.SPARQLProcessor.query


def _prepared_query(
    self: Any,
    strOrQuery: Any,
    initBindings: Any = None,
    initNs: Any = None,
    base: Any = None,
    DEBUG: bool = False,
) -> Any:
    if isinstance(strOrQuery, str):
        key = (strOrQuery, base, tuple(sorted((initNs or {}).items())))
        if key not in _prepared:
            _prepared[key] = processor.translateQuery(processor.parseQuery(strOrQuery), base, initNs)
        strOrQuery = _prepared[key]
    return _query(self, strOrQuery, initBindings, initNs, base, DEBUG)


if __name__ == "__main__":
    processor.SPARQLProcessor.query = _prepared_query  # type: ignore[method-assign]
    from case_utils.case_validate import main

    sys.argv[0] = "case_validate"
    main()

"""Bad input answers 4xx, not 500: values the database or a parser cannot take (NUL bytes, lone
surrogates, integers beyond 64 bits, NaN, bodies that are not UTF-8) are the client's mistake.

Only these classes are caught, not every exception: a real bug must still be a 500 with its traceback.
The log gets one line without the traceback, which would carry hash values from the query into the log.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError

log = logging.getLogger("tessera.review")


def install(app: FastAPI) -> None:
    async def bad_input(request: Request, exc: Exception) -> Response:
        log.info("bad input: %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "bad input"}, status_code=400)

    # UnicodeError is a ValueError; psycopg's refusal of a NUL byte is a DataError (or a ValueError
    # when it is caught before the query is sent), and SQLite's of an integer past 2^63 an OverflowError.
    for cls in (ValueError, OverflowError, DataError, StatementError):
        app.add_exception_handler(cls, bad_input)

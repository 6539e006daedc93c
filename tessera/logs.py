"""Logging set-up for the command line: ``-v``/``-vv`` on standard error, ``--log-file`` as JSON lines.

The library only ever calls ``logging.getLogger(__name__)`` and logs events (what ran, counts,
durations, locators); it never configures handlers, so an embedding program keeps control. Log records
carry no secrets (tokens, passwords, keys) and no content (message text, file bytes): the few places
that handle secrets also register them here with :func:`redact`, and every handler installed by
:func:`configure` masks registered values, a second line of defence should one slip into a message.

A JSON line holds ``time`` (ISO 8601, UTC, microseconds), ``level``, ``logger``, ``message``, any
``extra={...}`` fields of the call, and ``exception`` (the formatted traceback) where one was logged.
The format is versioned by ``"v": 1`` on every line (docs/storage.md lists it with the other formats).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

#: Version of the JSON-lines log format; bumped when a field changes meaning or is removed.
LOG_FORMAT_VERSION = 1

#: The package logger every module logger descends from: handlers are attached here, not on the root
#: logger, so third-party libraries (httpx, SQLAlchemy) never write their debug output (headers, URLs
#: with credentials, SQL parameters) into an examiner's log file.
ROOT = "tessera"

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written out.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

_secrets: set[str] = set()
_lock = threading.Lock()
_MASK = "[redacted]"


def redact(secret: str | bytes | None) -> None:
    """Never let ``secret`` reach a log handler installed by :func:`configure` (masked if it does)."""
    if not secret:
        return
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    if len(text) >= 4:  # masking a one-character "secret" would mangle every line
        with _lock:
            _secrets.add(text)


def _mask(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "v": LOG_FORMAT_VERSION,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in body:
                body[key] = _jsonable(value)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return _mask(json.dumps(body, ensure_ascii=False, default=str))


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time: while a progress bar is shown, Rich puts a proxy
    there that prints each line above the bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _mask(super().format(record))


def level_for(verbosity: int) -> int:
    """0: warnings only; 1 (``-v``): INFO; 2 or more (``-vv``): DEBUG."""
    return logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG


def configure(verbosity: int = 0, log_file: Path | None = None, stream: TextIO | None = None) -> None:
    """Install the command line's handlers on the ``tessera`` logger (replacing earlier ones).

    Standard error gets human lines at the ``-v`` level (warnings by default). The log file gets JSON
    lines at INFO, or DEBUG with ``-vv``: a file is asked for to keep a record, so it holds at least
    the INFO events. The file is appended to (a resumed run continues its log) and line-buffered, so
    a killed run keeps every line written before it.
    """
    logger = logging.getLogger(ROOT)
    for h in list(logger.handlers):
        if getattr(h, "_tessera", False):
            logger.removeHandler(h)
            h.close()
    console_level = level_for(verbosity)
    console = logging.StreamHandler(stream) if stream is not None else _CurrentStderr(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(_PlainFormatter("tessera: %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [console]
    file_level = logging.NOTSET
    if log_file is not None:
        file_level = min(logging.INFO, console_level)
        fh = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        fh.setLevel(file_level)
        fh.setFormatter(JsonLinesFormatter())
        handlers.append(fh)
    for h in handlers:
        h._tessera = True  # type: ignore[attr-defined]
        logger.addHandler(h)
    logger.setLevel(min(console_level, file_level) if log_file is not None else console_level)
    # Records stop here: a root handler set up by an embedding program would print them twice.
    logger.propagate = False

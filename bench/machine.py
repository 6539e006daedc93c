"""Facts about the machine a benchmark ran on, for the dated sections of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def uname() -> str:
    try:
        return subprocess.run(["uname", "-a"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return platform.platform()


def facts() -> dict[str, str]:
    return {
        "uname": uname(),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def summary() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · {cpu_model()} · Python {platform.python_version()}"


def precompile() -> None:
    """Compile tessera's modules to bytecode, as installing a package does. A checkout run with
    PYTHONDONTWRITEBYTECODE=1 (this machine's environment) would otherwise compile ~110 modules on
    every CLI start, ~0.05-0.15 s that an installed tessera never pays, counted in its start-up."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "tessera"), quiet=1)

"""Third-party plugins through the ``tessera.plugins`` entry-point group, as a user installs them.

The worked example of docs/plugins.md (its pyproject and module, read from the page so the two cannot
drift apart) is built and installed by pip into a folder of its own, next to two broken plugins; real
``tessera`` processes then find it, import a file in its format into a case on SQLite and PostgreSQL,
and report the broken ones without failing. Nothing is installed into the project's environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tessera.store import models as m
from tessera.store.case import CaseHandle

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
TINY = (
    "TINYSET 1\n"
    "md5 0f343b0931126a20f133d67c2b018a3b 2\n"
    "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 1\n"
    "md5 9E107D9D372BB6826BD81D3542A419D6 3\n"
)


def _block_after(text: str, label: str) -> str:
    """The fenced code block that follows the line naming ``label`` in docs/plugins.md."""
    match = re.search(rf"^`{re.escape(label)}`\n\n```\w*\n(.*?)^```", text, re.M | re.S)
    assert match, f"docs/plugins.md has no code block after `{label}`"
    return match.group(1)


def _package(root: Path, name: str, module: str, code: str, entry_points: dict[str, str]) -> Path:
    root.mkdir()
    eps = "\n".join(f'{k} = "{v}"' for k, v in entry_points.items())
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n\n[project.entry-points."tessera.plugins"]\n{eps}\n',
        encoding="utf-8",
    )
    (root / f"{module}.py").write_text(code, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed plugin distributions (put on PYTHONPATH by ``run``)."""
    tmp = tmp_path_factory.mktemp("plugins")
    doc = DOC.read_text(encoding="utf-8")
    tiny = tmp / "tessera-tinyset"
    tiny.mkdir()
    (tiny / "pyproject.toml").write_text(_block_after(doc, "pyproject.toml"), encoding="utf-8")
    (tiny / "tessera_tinyset.py").write_text(_block_after(doc, "tessera_tinyset.py"), encoding="utf-8")
    broken = _package(
        tmp / "broken",
        "tessera-broken",
        "tessera_broken",
        "from tessera.hashsets.base import FORMATS\n\n\n"
        "class Taker:\n    name = 'vics'\n\n\n"
        "def take_vics():\n    FORMATS.register('vics')(Taker())\n",
        # One plugin whose module is missing, one that takes a built-in's name.
        {"missing": "tessera_broken_missing", "taker": "tessera_broken:take_vics"},
    )
    site = tmp / "site"
    # Offline and without the machine's pip configuration: the build uses this environment's
    # setuptools (the test extra's floor) and installs nothing but the two packages, into ``site``.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps"]
    cmd += ["--target", str(site), str(tiny), str(broken)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert (site / "tessera_tinyset.py").exists()
    return site


def run(site: Path | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TESSERA_NO_PLUGINS")}
    if site is not None:
        full["PYTHONPATH"] = str(site)
    full.update(env)
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True, env=full)


def test_a_plugin_format_from_another_package_is_found_and_used(
    plugin_site: Path, case: CaseHandle, tmp_path: Path
) -> None:
    unit = tmp_path / "unit.tiny"
    unit.write_text(TINY, encoding="utf-8")
    case_dir = tmp_path / "case"
    r = run(plugin_site, "hashset", "import", str(unit), "--name", "unit", "--case", str(case_dir))
    assert r.returncode == 0, r.stderr
    assert "3 entries" in r.stdout and "as tinyset 1" in r.stdout, r.stdout
    # The broken plugins are reported on standard error, one warning each, and change nothing else.
    assert "plugin missing (tessera-broken 0.1) not loaded: ModuleNotFoundError" in r.stderr, r.stderr
    # Which reason depends on whether the built-in module registered first (the CLI imports only the
    # command's modules): either way the plugin that takes a built-in name is the one not loaded.
    taker = "plugin taker (tessera-broken 0.1) not loaded: "
    assert taker + "ValueError" in r.stderr or taker + "hash-set format 'vics' is a built-in name" in r.stderr
    with case.session() as s:
        hs = s.scalars(select(m.HashSet).where(m.HashSet.name == "unit")).one()
        assert hs.format == "tinyset"
        rows = s.execute(
            select(m.HashEntry.algorithm, m.HashEntry.value, m.HashEntry.category).where(
                m.HashEntry.hashset_id == hs.id
            )
        ).all()
    assert sorted(rows) == [
        ("md5", "0f343b0931126a20f133d67c2b018a3b", 2),
        ("md5", "9e107d9d372bb6826bd81d3542a419d6", 3),
        ("sha1", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", 1),
    ]
    # A malformed line is refused with its position, and nothing of the file is kept.
    bad = tmp_path / "bad.tiny"
    bad.write_text("TINYSET 1\nmd5 0f343b0931126a20f133d67c2b018a3b two\n", encoding="utf-8")
    r = run(plugin_site, "hashset", "import", str(bad), "--name", "bad", "--case", str(case_dir))
    assert r.returncode == 2 and "line 2" in r.stderr, r.stderr
    with case.session() as s:
        assert s.scalar(select(func.count()).select_from(m.HashSet).where(m.HashSet.name == "bad")) == 0


def _listing(site: Path | None, **env: str) -> list[dict[str, Any]]:
    r = run(site, "plugins", "--format", "json", **env)
    assert r.returncode == 0, r.stderr
    return list(json.loads(r.stdout))


def test_tessera_plugins_lists_each_plugin_with_its_distribution_and_the_failed_ones(
    plugin_site: Path,
) -> None:
    rows = _listing(plugin_site)
    by_name = {(r["axis"], r["name"]): r for r in rows if r["status"] == "loaded"}
    tiny = by_name[("hash-set format", "tinyset")]
    assert (tiny["distribution"], tiny["version"]) == ("tessera-tinyset", "1.0")
    assert by_name[("hash-set format", "vics")]["distribution"] == "tessera"  # a built-in keeps its name
    assert by_name[("evidence source", "directory")]["distribution"] == "tessera"
    failed = {r["name"]: r for r in rows if r["status"] == "failed"}
    assert set(failed) == {"missing", "taker"}
    assert failed["missing"]["distribution"] == "tessera-broken"
    assert "No module named 'tessera_broken_missing'" in failed["missing"]["error"]
    # "already registered" if the built-in registered first, else the built-in evicts it on import.
    err = failed["taker"]["error"]
    assert "'vics' is already registered" in err or "'vics' is a built-in name" in err, err
    # Switched off, or not installed: only the built-ins.
    for listing in (_listing(plugin_site, TESSERA_NO_PLUGINS="1"), _listing(None)):
        assert {r["distribution"] for r in listing} == {"tessera"}

"""A hub install (``pip install 'tessera[hub]'``) needs neither The Sleuth Kit, dfVFS, libyal nor PyAV.

The project's environment has them all, so a child Python is run with an import blocker in front of
``sys.meta_path``: any import of the evidence, video or Dask packages raises ImportError, as it would
where they are not installed. In it the hub's modules import, the hub commands answer, a hub database
is created, and a disk image met by an ingest is recorded with a note naming the extra, not a crash.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tessera.synth.trees import make_device_tree

ROOT = Path(__file__).resolve().parents[1]

#: Top-level modules of the `evidence`, `video` and `dask` extras and of what they bring with them.
BLOCKED = [
    "dfvfs",
    "pytsk3",
    "pyewf",
    "libarchive",
    "av",
    "vpdq",
    "distributed",
    "dask",
    "pybde",
    "pyfsapfs",
    "pyfsext",
    "pyfshfs",
    "pyfsntfs",
    "pyfsxfs",
    "pyfvde",
    "pyluksde",
    "pymodi",
    "pyphdi",
    "pyqcow",
    "pysigscan",
    "pysmdev",
    "pysmraw",
    "pyvhdi",
    "pyvmdk",
    "pyvsapm",
    "pyvsgpt",
    "pyvslvm",
    "pyvshadow",
    "pyfcrypto",
    "pycaes",
]

BLOCKER = f"""
import importlib.abc, sys
BLOCKED = {set(BLOCKED)!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {{name!r}} (blocked)", name=name.split(".")[0])
        return None
sys.meta_path.insert(0, Blocker())
"""


def blocked_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def cli(*args: str) -> str:
    return f"sys.argv = ['tessera', *{list(args)!r}]\nfrom tessera.cli import main\nmain()\n"


def test_the_extras_hold_the_evidence_and_video_packages_and_the_core_does_not() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(meta["dependencies"]).lower()
    for name in ("dfvfs", "pytsk3", "libewf", "av>", "vpdq", "distributed", "libarchive"):
        assert name not in core, name
    extras = meta["optional-dependencies"]
    assert {"evidence", "video", "hub", "dask", "all"} <= set(extras)
    assert any(d.startswith("av>=") for d in extras["video"])
    assert any(d.startswith("dfvfs>=") for d in extras["evidence"])


def test_hub_modules_and_commands_work_without_evidence_or_video_packages(tmp_path: Path) -> None:
    code = """
import pkgutil, importlib
import tessera.hub
for mod in pkgutil.iter_modules(tessera.hub.__path__):
    importlib.import_module("tessera.hub." + mod.name)
from tessera.hub.app import create_app
for name in BLOCKED:
    assert name not in sys.modules, name
print("hub modules imported")
"""
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    # One child for all: each command's exit is caught, so its code can be checked and the next run.
    for args in (["hub", "--help"], ["hub", "serve", "--help"], ["hub", "init", "--db", db]):
        code += f"""
sys.argv = ['tessera', *{args!r}]
try:
    main()
    print("exit 0")
except SystemExit as exc:
    print("exit", exc.code or 0)
"""
    r = blocked_python("from tessera.cli import main\n" + code, tmp_path)
    assert r.returncode == 0 and "hub modules imported" in r.stdout, r.stderr
    assert r.stdout.count("Usage") == 2 and "hub database ready" in r.stdout, r.stdout
    assert r.stdout.count("exit 0") == 3, r.stdout
    assert (tmp_path / "hub.db").exists()


def test_without_the_evidence_extra_a_disk_image_is_a_note_naming_it(tmp_path: Path) -> None:
    tree = make_device_tree(tmp_path / "D1", 5, n_photos=2, n_chat=1, n_duplicates=0)
    # A raw image by its MBR boot signature: what the disk-image format sniffs for.
    mbr = bytearray(512 * 8)
    mbr[510:512] = b"\x55\xaa"
    mbr[446 + 4] = 0x83  # one Linux partition entry
    (tree.root / "disk.img").write_bytes(bytes(mbr))
    case = tmp_path / "case"
    r = blocked_python(cli("case", "init", str(case), "--name", "c", "--agency", "XX"), tmp_path)
    assert r.returncode == 0, r.stderr
    r = blocked_python(
        cli("ingest", str(tree.root), "--device", "D1", "--workers", "0", "--case", str(case)), tmp_path
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1, r.stdout + r.stderr  # done, with files that could not be processed
    assert "pip install 'tessera[evidence]'" in r.stdout + r.stderr

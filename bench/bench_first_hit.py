"""Time to first hit: a device of 100,000 files with one known image in a WhatsApp media folder.

    python bench/bench_first_hit.py [--files 100000]

Runs the real CLI twice on the same tree, measuring the seconds from start until the ``HIT`` line:
media folders first (the default) and the plain path-sorted walk (``--sorted-walk``), both with
``--first-hit``. Target: first hit in under 5 s. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]

from tessera.hashing import hash_item
from tessera.records import Opener
from tessera.synth.hashsets import vics_media
from tessera.synth.images import jpeg_bytes

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
KNOWN = "sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20240301-WA0007.jpg"


def make_tree(root: Path, n: int) -> bytes:
    marker = root / ".complete"
    known = jpeg_bytes(424242, 640, 480)
    if marker.exists() and marker.read_text() == str(n):
        return known
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(1)
    # App data, documents and caches, as on a phone: many small files in many folders.
    for i in range(n - 1):
        d = (
            root
            / "sdcard"
            / f"{'Android/data' if i % 3 else 'Documents'}"
            / f"app{i % 97:02d}"
            / f"d{i % 1000:03d}"
        )
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:06d}.dat").write_bytes(rng.randbytes(64 + i % 512))
    target = root / KNOWN
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(known)
    marker.write_text(str(n))
    return known


def time_to_hit(cmd: list[str]) -> tuple[float, float]:
    """(seconds to the first HIT line, seconds to exit)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hit = float("nan")
    assert proc.stderr is not None
    for line in proc.stderr:
        if "HIT" in line and hit != hit:
            hit = time.perf_counter() - t0
    proc.wait()
    return hit, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    tree = OUT / f"first-hit-{args.files}"
    print(f"generating {args.files:,} files ...", flush=True)
    known = make_tree(tree, args.files)
    rec = hash_item(Opener(data=known))
    vics_media(
        [{"md5": rec.md5, "sha1": rec.sha1, "pdq": rec.pdq, "category": 1}],
        version="2.0",
        out=OUT / "first-hit-known.json",
    )
    rows = []
    for label, extra in (("media folders first (default)", []), ("plain sorted walk", ["--sorted-walk"])):
        case = OUT / "first-hit-case"
        shutil.rmtree(case, ignore_errors=True)
        tessera = [sys.executable, "-m", "tessera"]
        subprocess.run(
            [*tessera, "case", "init", str(case), "--name", "b", "--agency", "B"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [*tessera, "hashset", "import", str(OUT / "first-hit-known.json"), "--case", str(case)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        hit, total = time_to_hit(
            [*tessera, "ingest", str(tree), "--device", "B1", "--first-hit", *extra, "--case", str(case)]
        )
        print(f"{label}: first hit {hit:.1f} s (stopped at {total:.1f} s)")
        rows.append(f"| {label} | **{hit:.1f} s** | {total:.1f} s |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"\n## Time to first hit — {stamp}",
            f"Machine: {machine()}. Command: `python bench/bench_first_hit.py "
            + " ".join(sys.argv[1:])
            + "`",
            "",
            f"{args.files:,} files; one known image at `/{KNOWN}`; "
            "`tessera ingest --first-hit`, CLI start included. "
            "Target: under 5 s.",
            "",
            "| walk order | first hit | process exit |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()

"""Issue 16's two peers at equal cores, in one run: small files against hashdeep, 12-MP photos against
python-threatexchange on a pool of the same number of processes.

    python bench/bench_equal_cores.py [--workers 2] [--rounds 3] [--quick] [--record]

Runs ``bench_smallfiles.py`` (30,000-file phone-like tree and the mixed tree, ``hashdeep -j N`` against
``tessera ingest --workers N``) and then ``bench_photos.py`` (``PdqSignal.hash_from_file`` on a pool of N
processes against ``tessera ingest --workers N``), each with its own interleaved rounds, and with
``--record`` each appends its section to bench/RESULTS.md. The two are one command so their figures come
from the same machine state; read each section for the load average it saw.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes: check that both still run")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    common = ["--workers", str(args.workers), "--rounds", str(args.rounds)]
    if args.record:
        common.append("--record")
    runs = [
        ["bench_smallfiles.py", *common, *(["--files", "3000", "--mixed", "1000"] if args.quick else [])],
        ["bench_photos.py", *common, *(["--n", "12", "--peer-n", "4"] if args.quick else [])],
    ]
    rc = 0
    for script, *rest in runs:
        print(f"== {script} {' '.join(rest)}", flush=True)
        rc |= subprocess.run([sys.executable, str(HERE / script), *rest], check=False).returncode
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

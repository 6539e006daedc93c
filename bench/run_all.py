"""Run every benchmark once, each against its peer, appending dated sections to bench/RESULTS.md.

python bench/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv
    runs = [
        ["bench_decode.py", "--n", "10" if quick else "40", "--sweep"],
        ["bench_matching.py", *(["--refs", "1000000", "--queries", "20000"] if quick else [])],
        ["bench_ingest.py", *(["--n12", "20", "--nsmall", "100", "--files", "5000"] if quick else [])],
    ]
    rc = 0
    for script, *args in runs:
        print(f"== {script} {' '.join(args)}", flush=True)
        rc |= subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

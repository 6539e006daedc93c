"""Run every benchmark once, each against its peer, appending dated sections to bench/RESULTS.md.

The full run takes hours on a 2-core machine (the 10M-entry hub alone needs a 15-minute bulk load);
``--quick`` runs every benchmark at a small size to check that they all still work.

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
        ["bench_first_hit.py", *(["--files", "20000"] if quick else [])],
        ["bench_msgstore.py", *(["--messages", "100000"] if quick else [])],
        ["bench_network.py", *(["--messages", "100000"] if quick else [])],
        ["bench_review.py", *(["--media", "10000"] if quick else [])],
        [
            "bench_hub.py",
            "--record",
            *(["--entries", "100000", "--push", "100000", "--seconds", "10"] if quick else []),
        ],
        ["bench_hub.py", "--load", "--record", *(["--seconds", "15"] if quick else [])],
        ["bench_video.py", "--record", *(["--videos", "2", "--seconds", "6"] if quick else [])],
        [
            "bench_scaling.py",
            "--record",
            *(["--files", "300", "--photos", "60", "--rounds", "1"] if quick else []),
        ],
        ["bench_equal_cores.py", "--record", *(["--quick"] if quick else [])],
        [
            "bench_hub_index.py",
            *(["--entries", "200000"] if quick else ["--entries", "10000000", "--push", "50000"]),
        ],
        ["bench_hub_replicas.py", "--record", *(["--pushes", "5", "--preload", "1000"] if quick else [])],
        ["bench_writer.py", "--record", *(["--files", "2000", "--rounds", "1"] if quick else [])],
        ["bench_gpu_match.py", "--record"],  # prints "no GPU: skipped" where there is none
    ]
    rc = 0
    for script, *args in runs:
        print(f"== {script} {' '.join(args)}", flush=True)
        rc |= subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode
    return rc


if __name__ == "__main__":
    raise SystemExit(main())

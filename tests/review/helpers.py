"""A small review case from tessera.synth: new abstract images with near-duplicate edits (clusters),
one image inside a zip (chained locator), an optional messaging network, and three users."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.review.auth import add_user
from tessera.review.clusters import update_clusters
from tessera.store.case import CaseHandle
from tessera.synth.images import edits, encode, photo_image
from tessera.synth.network import make_network
from tessera.synth.seizures import write_seizures

PASSWORD = "correct horse battery"
USERS = {"eva": "examiner", "rita": "reviewer", "vic": "viewer"}
EDITS = ("resize", "recompress", "brightness")


@dataclass
class Built:
    evidence: Path
    #: base image sha256 -> sha256 of it and its near-duplicate edits
    clusters: dict[str, set[str]] = field(default_factory=dict)
    singles: list[str] = field(default_factory=list)
    zipped: str = ""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_case(
    case: CaseHandle, root: Path, *, n_series: int = 2, n_single: int = 3, network: bool = False
) -> Built:
    ev = root / "evidence" / "D100"
    ev.mkdir(parents=True)
    built = Built(ev)
    for k in range(n_series):
        img = photo_image(9100 + k, 480, 360)
        base = encode(img, "JPEG", quality=90)
        (ev / f"series{k}.jpg").write_bytes(base)
        members = {sha(base)}
        for name in EDITS:
            data = encode(edits(img)[name], "JPEG", quality=25 if name == "recompress" else 90)
            (ev / f"series{k}-{name}.jpg").write_bytes(data)
            members.add(sha(data))
        built.clusters[sha(base)] = members
    for k in range(n_single):
        data = encode(photo_image(9300 + k * 7, 480, 360), "JPEG", quality=90)
        (ev / f"single{k}.jpg").write_bytes(data)
        built.singles.append(sha(data))
    inner = encode(photo_image(9500, 400, 300), "JPEG", quality=90)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("saved/inner.jpg", inner)
    (ev / "backup.zip").write_bytes(buf.getvalue())
    built.zipped = sha(inner)
    ingest(case, ev, IngestOptions("D100", kind="storage", suspect="S01", workers=0))
    if network:
        net = make_network(3, n_people=18, n_wa_groups=3, n_tg_groups=1, n_items=6, n_posts=120)
        for item in write_seizures(net, root / "evidence" / "net"):
            ingest(case, item.path, IngestOptions(item.seizure.device, kind=item.kind, workers=0))
    with case.session() as s:
        for name, role in USERS.items():
            add_user(s, name, role, PASSWORD)
        update_clusters(s)
        s.commit()
    return built


def tree_state(root: Path) -> dict[str, tuple[int, float, str]]:
    """Path -> (size, mtime, sha256) of every file under ``root``: evidence must not change."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            st = p.stat()
            out[str(p)] = (st.st_size, st.st_mtime, sha(p.read_bytes()))
    return out

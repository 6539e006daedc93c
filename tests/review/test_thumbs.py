"""Thumbnails of media wherever the walk found it: inside an E01, a partition of a raw disk, a gzip,
a zip inside a disk image, and a file whose name holds ``!`` (issue 11), through the one resolver."""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.review.thumbs import ThumbCache, media_bytes
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.disks import tools_missing
from tests.evidence.test_resolve import tree  # noqa: F401  (the fixture)


def test_every_stored_image_gets_a_real_thumbnail(sqlite_case: CaseHandle, tree: Path) -> None:  # noqa: F811
    ingest(sqlite_case, tree, IngestOptions("T1", workers=0))
    with sqlite_case.session() as s:
        rows = s.execute(
            select(m.File.locator, m.File.sha256)
            .join(m.Media, m.Media.sha256 == m.File.sha256)
            .where(m.Media.kind == "image")
        ).all()
        kinds = {
            "!": any("%21" in loc for loc, _ in rows),
            "gz": any(loc.startswith("/one.jpg.gz!") for loc, _ in rows),
            "dup": any(loc.endswith("#2") for loc, _ in rows),
        }
        if not tools_missing():
            kinds["E01"] = any(loc.startswith("/images/disk.E01!/") for loc, _ in rows)
            kinds["partition"] = any(loc.startswith("/images/disk.raw!/p") for loc, _ in rows)
            kinds["zip in disk"] = any(".raw!/" in loc and "ZIP!/" in loc.upper() for loc, _ in rows)
        assert all(kinds.values()), kinds
        cache = ThumbCache(sqlite_case.directory)
        for _, sha in rows:
            assert sha is not None
            assert media_bytes(s, sha, cache.scratch)  # every occurrence kind verifies by SHA-256
            with Image.open(cache.clear(s, sha, "image")) as img:
                # A placeholder is flat grey; a thumbnail of a generated picture is not.
                assert len(set(img.convert("L").getdata())) > 8, sha


def test_concurrent_requests_never_share_a_temporary_file(sqlite_case: CaseHandle, tree: Path) -> None:  # noqa: F811
    ingest(sqlite_case, tree, IngestOptions("T2", workers=0))
    with sqlite_case.session() as s:
        sha = s.scalars(select(m.Media.sha256).where(m.Media.kind == "image")).first()
    assert sha
    errors: list[BaseException] = []

    def make() -> None:
        try:
            with sqlite_case.session() as s:
                ThumbCache(sqlite_case.directory).blurred(s, sha, "image", 8)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not list((sqlite_case.directory / "thumbs").rglob("*.tmp"))

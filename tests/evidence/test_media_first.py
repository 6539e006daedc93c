from __future__ import annotations

from pathlib import Path

from tessera.evidence import Limits, iter_evidence
from tessera.synth.images import jpeg_bytes


def _tree(root: Path) -> None:
    for d in range(5):
        sub = root / f"aaa{d}"
        sub.mkdir(parents=True)
        for i in range(40):
            (sub / f"f{i:03d}.bin").write_bytes(b"x" * (i + 1))
    wa = root / "sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images"
    wa.mkdir(parents=True)
    (wa / "IMG-20240301-WA0001.jpg").write_bytes(jpeg_bytes(1, 64, 48))
    cam = root / "sdcard/DCIM/Camera"
    cam.mkdir(parents=True)
    (cam / "IMG_1.jpg").write_bytes(jpeg_bytes(2, 64, 48))


def test_media_folders_come_first_and_nothing_is_lost(tmp_path: Path) -> None:
    _tree(tmp_path / "dev")
    plain = [i.locator for i in iter_evidence(tmp_path / "dev")]
    first = [i.locator for i in iter_evidence(tmp_path / "dev", Limits(media_first=True))]
    assert sorted(plain) == sorted(first) and len(first) == len(set(first))
    assert first[0].endswith("WhatsApp Images/IMG-20240301-WA0001.jpg")
    assert first[1] == "/sdcard/DCIM/Camera/IMG_1.jpg"
    assert plain.index("/sdcard/DCIM/Camera/IMG_1.jpg") > 100  # a plain walk reaches it late

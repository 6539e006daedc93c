"""Real disk images from The Sleuth Kit's and dfVFS's test suites, against The Sleuth Kit's own tools.

For every image of ``../shared/corpus/disk`` (the DFTT zips unzipped into the test's scratch folder,
everything else read in place) the multiset of (path, deleted, sha256) Tessera's walk gives equals
the oracle's: ``mmls`` for the partitions, ``fls -r -p`` with every file-system type for the list
and ``icat`` for the content. The only differences allowed are listed in ``_oracle`` and
``EXPECTED_ERRORS`` and justified there. TSK's tools read copies: they open without O_NOATIME.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from tessera.evidence import iter_evidence, open_readonly
from tessera.records import LOCATOR_SEP, EvidenceItem

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/disk"

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}"),
    pytest.mark.skipif(
        shutil.which("fls") is None, reason="The Sleuth Kit's fls/icat/mmls missing (Debian sleuthkit)"
    ),
]

#: File-system types the oracle tries on every volume, in Tessera's order (disk_tsk.TSK_TYPES): a
#: volume may hold two valid file systems (DFTT #10), and TSK's autodetection then refuses both.
FS_TYPES = ("ntfs", "fat", "ext", "hfs", "iso9660", "ufs")
#: (zip, member) of the DFTT images; each is unzipped into the scratch folder.
ZIPPED = {
    "fat-img-kw.dd": ("2-kwsrch-fat.zip", "2-kwsrch-fat/fat-img-kw.dd"),
    "ext3-img-kw-1.dd": ("4-kwsrch-ext3.zip", "4-kwsrch-ext3/ext3-img-kw-1.dd"),
    "daylight.dd": ("5-fat-daylight.zip", "5-fat-daylight/daylight.dd"),
    "9-fat-label.dd": ("9-fat-label.zip", "9-fat-label/9-fat-label.dd"),
    "10-ntfs-disk.dd": ("10b-ntfs-autodetect.zip", "10-ntfs-autodetect/10-ntfs-disk.dd"),
    "10-ntfs-part1.dd": ("10b-ntfs-autodetect.zip", "10-ntfs-autodetect/10-ntfs-part1.dd"),
    "10-ntfs-part2.dd": ("10b-ntfs-autodetect.zip", "10-ntfs-autodetect/10-ntfs-part2.dd"),
    "10-ntfs-part3.dd": ("10b-ntfs-autodetect.zip", "10-ntfs-autodetect/10-ntfs-part3.dd"),
    "iso-dirtree1.iso": ("14-iso9660-1.zip", "14-iso9660-1/iso-dirtree1.iso"),
    "iso-dirtree2.iso": ("14-iso9660-1.zip", "14-iso9660-1/iso-dirtree2.iso"),
    "iso-endian.iso": ("14-iso9660-1.zip", "14-iso9660-1/iso-endian.iso"),
    "image.gen1.dmg": ("nps-2009-hfsjtest1.zip", "image.gen1.dmg"),
}
#: Images read in place; the value lists the further files TSK's command line needs (split sets).
IN_PLACE = {
    "ext2.E01": (),
    "ext2.split.E01": ("ext2.split.E02",),
    "ext2.splitraw.000": ("ext2.splitraw.001",),
    "ext2.vmdk": (),
    "image.vhd": (),
    "iso9660.raw": (),
}
#: Errors Tessera records that TSK's command line does not print, by image and path.
EXPECTED_ERRORS = {
    # pytsk3's TSK (4.15) cannot build UFS1's orphan list on this image ("find_orphan_meta_walk_cb");
    # Debian's fls (4.11) lists an empty $OrphanFiles. Tessera names the folder it could not list.
    "10-ntfs-part3.dd": {"@ufs/$OrphanFiles": "cannot list folder"},
}
_FLS = re.compile(
    r"^(?P<types>\S)/(?P<meta>\S) (?P<star>\* )?(?P<addr>[0-9-]+)(\(realloc\))?:\t(?P<path>.*)$"
)

Key = tuple[str, bool, str | None]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(*cmd: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, capture_output=True, timeout=120)


def _partitions(images: list[str]) -> list[tuple[str, int]]:
    done = _run("mmls", *images)
    if done.returncode != 0:
        return [("", 0)]  # no volume system: the image is one file system
    parts = []
    for line in done.stdout.decode().splitlines():
        cols = line.split()
        if len(cols) >= 3 and re.fullmatch(r"\d+:\d+", cols[1]):
            parts.append((f"p{len(parts) + 1}", int(cols[2])))
    return parts


def _oracle(images: list[str]) -> Counter[Key]:
    """(path, deleted, sha256) of every file TSK's command-line tools list and read."""
    out: Counter[Key] = Counter()
    for label, offset in _partitions(images):
        found = []
        for fs in FS_TYPES:
            listing = _run("fls", "-f", fs, "-r", "-p", "-o", str(offset), *images)
            if listing.returncode == 0:
                found.append((fs, listing.stdout.decode("utf-8", "backslashreplace")))
        for n, (fs, listing_text) in enumerate(found):
            prefix = (label + "/" if label else "") + (f"@{fs}/" if n else "")
            for line in listing_text.splitlines():
                m = _FLS.match(line)
                assert m, line
                kinds = m["types"] + m["meta"]
                if m["meta"] != "r" and kinds != "r-":
                    continue  # folders, links, devices, and TSK's virtual FAT files ($MBR: v/v)
                addr = m["addr"]
                if fs == "ntfs" and addr.count("-") == 2 and addr.split("-")[1] != "128":
                    # Exception: NTFS index roots of system files ($Secure:$SDH, $ObjId:$O, ...):
                    # fls lists them like streams, but they are indexes, not data. Tessera walks
                    # $DATA streams only.
                    continue
                path = m["path"]
                sha = None
                if m["meta"] == "r" and not (addr == "0" and fs != "ntfs"):
                    content = _run("icat", "-f", fs, "-o", str(offset), *images, addr)
                    # Exception: an entry with no data attribute (NTFS's unused reserved MFT entries
                    # under $OrphanFiles) - icat fails, Tessera records the name with no content.
                    sha = _sha(content.stdout) if content.returncode == 0 else None
                if path.endswith("$BadClus:$Bad"):
                    # Exception: the bad-cluster map is a sparse stream as long as the volume;
                    # Tessera names it and does not read it.
                    sha = None
                out[(prefix + path, bool(m["star"]), sha)] += 1
    return out


def _content(item: EvidenceItem) -> str | None:
    if item.opener is None or item.error:
        return None
    if item.opener.data is not None:
        return _sha(item.opener.data)
    return _sha(Path(item.opener.path or "").read_bytes())


def _tessera(image: Path) -> tuple[Counter[Key], dict[str, str]]:
    """Tessera's (path, deleted, sha256) of the image's files, and the errors it recorded by path."""
    prefix = f"/{image.name}!/"
    got: Counter[Key] = Counter()
    errors = {}
    for item in iter_evidence(image):
        if not item.locator.startswith(prefix) or "!/" in item.locator[len(prefix) :]:
            continue  # the image itself, and what containers inside its files hold
        path = item.locator[len(prefix) :]
        if item.error and item.error.startswith("cannot list folder"):
            errors[path] = item.error
            continue
        if item.is_symlink or (item.error or "").startswith("not a regular file"):
            continue
        if item.error:
            errors[path] = item.error
        got[(path, item.deleted, _content(item))] += 1
    return got, errors


def _copy(src: Path, dst: Path) -> None:
    # O_NOATIME: reading the corpus for the oracle must not change it either.
    with open_readonly(src) as fh, dst.open("wb") as out:
        shutil.copyfileobj(fh, out)


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DFTT images unzipped, and copies of the others for TSK's tools (which open without
    O_NOATIME); Tessera itself reads the in-place images where they are."""
    root = tmp_path_factory.mktemp("dftt")
    for name, (archive, member) in ZIPPED.items():
        with (
            open_readonly(CORPUS / archive) as raw,
            zipfile.ZipFile(raw) as zf,
            zf.open(member) as src,
            (root / name).open("wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    (root / "oracle").mkdir()
    for name, extras in IN_PLACE.items():
        for part in (name, *extras):
            _copy(CORPUS / part, root / "oracle" / part)
    return root


def _image(name: str, unzipped: Path) -> tuple[Path, list[str]]:
    if name in ZIPPED:
        return unzipped / name, [str(unzipped / name)]
    copies = unzipped / "oracle"
    return CORPUS / name, [str(copies / name), *(str(copies / extra) for extra in IN_PLACE[name])]


@pytest.mark.parametrize("name", [*ZIPPED, *IN_PLACE])
def test_every_file_equals_the_sleuth_kit(name: str, unzipped: Path) -> None:
    image, images = _image(name, unzipped)
    expected = _oracle(images)
    got, errors = _tessera(image)
    assert expected, f"the oracle lists nothing in {name}"
    assert got == expected, f"only Tessera: {got - expected}\nonly TSK: {expected - got}"
    allowed = EXPECTED_ERRORS.get(name, {})
    assert {p: e.split(":")[0] for p, e in errors.items()} == allowed


def test_both_file_systems_of_a_partition_are_walked(unzipped: Path) -> None:
    """DFTT #10: each partition holds NTFS and a second file system; neither is hidden."""
    got, _ = _tessera(unzipped / "10-ntfs-disk.dd")
    paths = {path for path, _, _ in got}
    assert {"p1/NTFS.TXT", "p1/@ext/ext2.txt", "p2/NTFS.TXT", "p2/@ufs/ufs1.txt"} <= paths


def test_an_image_inside_a_zip_is_walked_in_place() -> None:
    # The images compress far past the zip bomb ratio (mostly zeros): a disk image is bounded by the
    # byte budget instead of the ratio, with the default limits.
    found = {i.locator: i for i in iter_evidence(CORPUS / "2-kwsrch-fat.zip")}
    inner = "/2-kwsrch-fat.zip!/2-kwsrch-fat/fat-img-kw.dd!/"
    assert found[inner + "file1.dat"].error is None
    deleted = [loc for loc, i in found.items() if loc.startswith(inner) and i.deleted]
    assert deleted == [inner + "_ILE5.DAT"]


@pytest.mark.parametrize("name", ["5-fat-daylight.zip", "nps-2009-hfsjtest1.zip"])
def test_almost_empty_zipped_images_are_not_taken_for_bombs(name: str) -> None:
    items = list(iter_evidence(CORPUS / name))
    assert not [i.error for i in items if i.error and "bomb" in i.error]
    assert any(LOCATOR_SEP in i.locator.split(".zip!", 1)[-1] for i in items), [i.locator for i in items]


def test_a_zero_bomb_that_is_no_disk_image_is_still_refused(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(8 << 20))
    (item,) = [i for i in iter_evidence(tmp_path / "b.zip") if i.locator.endswith("zeros.bin")]
    assert item.opener is None and "bomb" in (item.error or "")


def test_differencing_vhd_without_its_parent_is_a_named_error() -> None:
    (item,) = [i for i in iter_evidence(CORPUS / "fat-differential.vhd")]
    assert item.error is not None
    assert "fat-differential.vhd: differencing VHD: parent image fat-parent.vhd missing" in item.error


def test_missing_ewf_segment_is_named(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    _copy(CORPUS / "ext2.split.E01", tmp_path / "ev" / "ext2.split.E01")
    found = {i.locator: i for i in iter_evidence(tmp_path / "ev")}
    assert "ext2.split.E01: segment file ext2.split.E02 missing" in (found["/ext2.split.E01"].error or "")


def test_the_second_ewf_segment_is_not_walked_as_an_image_of_its_own() -> None:
    found = [i.locator for i in iter_evidence(CORPUS / "ext2.split.E02")]
    assert found == ["/ext2.split.E02"]


def test_corrupt_gzip_is_a_named_error() -> None:
    items = list(iter_evidence(CORPUS / "corrupt1.gz"))
    errors = [i.error for i in items if i.error]
    assert errors and "corrupt gzip stream" in errors[0]

"""Device paths recognised by the shape of the path, in every layout tools write, in any layer."""

from __future__ import annotations

import pytest

from tessera.evidence.devicepath import android_package, canonical, device_path, locate, package_root


@pytest.mark.parametrize(
    ("locator", "expected"),
    [
        # iOS: Cellebrite data partition, Cellebrite root, absolute and relative private/var.
        (
            "/x.zip!/filesystem2/mobile/Containers/Shared/AppGroup/U/ChatStorage.sqlite",
            "/private/var/mobile/Containers/Shared/AppGroup/U/ChatStorage.sqlite",
        ),
        (
            "/x.zip!/filesystem1/private/var/containers/Data/System/U/storeSystem.db",
            "/private/var/containers/Data/System/U/storeSystem.db",
        ),
        ("/x.zip!/private/var/mobile/Library/SMS/sms.db", "/private/var/mobile/Library/SMS/sms.db"),
        ("/e/Extraction/filesystem2/mobile/a", "/private/var/mobile/a"),
        ("/x.tar!/var/mobile/Library/a.db", "/private/var/mobile/Library/a.db"),
        # Android private app data, with and without a tool's prefix.
        (
            "/x.zip!/data/data/com.whatsapp/databases/msgstore.db",
            "/data/data/com.whatsapp/databases/msgstore.db",
        ),
        (
            "/x.zip!/Dump/data/data/com.whatsapp/databases/msgstore.db",
            "/data/data/com.whatsapp/databases/msgstore.db",
        ),
        (
            "/x.zip!/data/user/0/org.telegram.messenger/files/cache4.db",
            "/data/user/0/org.telegram.messenger/files/cache4.db",
        ),
        (
            "/x.zip!/sbin/.magisk/mirror/data/data/com.whatsapp/databases/wa.db",
            "/data/data/com.whatsapp/databases/wa.db",
        ),
        (
            "/x.zip!/blk0_mmcblk0/userdata/data/com.whatsapp/databases/wa.db",
            "/data/data/com.whatsapp/databases/wa.db",
        ),
        ("/img/data/com.whatsapp/databases/wa.db", "/data/data/com.whatsapp/databases/wa.db"),
        # Shared storage, written the one way apps see it.
        ("/x.zip!/data/media/0/WhatsApp/Media/a.jpg", "/storage/emulated/0/WhatsApp/Media/a.jpg"),
        ("/x.zip!/sdcard/WhatsApp/Media/a.jpg", "/storage/emulated/0/WhatsApp/Media/a.jpg"),
        ("/x.zip!/storage/emulated/0/DCIM/a.jpg", "/storage/emulated/0/DCIM/a.jpg"),
        ("/x.zip!/blk0_mmcblk0/userdata/media/0/Download/a.pdf", "/storage/emulated/0/Download/a.pdf"),
        ("/x.zip!/data/media/10/DCIM/a.jpg", "/storage/emulated/10/DCIM/a.jpg"),
        # A folder source laid out from its top.
        ("/sdcard/WhatsApp/Databases/msgstore.db", "/storage/emulated/0/WhatsApp/Databases/msgstore.db"),
    ],
)
def test_layouts(locator: str, expected: str) -> None:
    assert device_path(locator) == expected


def test_not_a_device_path() -> None:
    for loc in ("/home/u/notes.txt", "/case/phone.zip", "/x.zip!/report.xml", "/x.zip!/data/readme.txt"):
        assert device_path(loc) is None, loc


def test_the_outermost_layer_with_a_layout_wins() -> None:
    # A zip the phone held: its member is named inside that file, the file keeps its device path.
    loc = "/x.zip!/data/media/0/Download/backup.zip!/data/data/com.x.y/a.db"
    assert device_path(loc) == "/storage/emulated/0/Download/backup.zip!/data/data/com.x.y/a.db"
    # The archive's own name plays no part: a zip called filesystem2.zip is not a layout.
    assert device_path("/cases/filesystem2.zip!/notes.txt") is None
    assert device_path("/cases/filesystem2.zip!/filesystem2/mobile/x") == "/private/var/mobile/x"


def test_escapes_and_occurrences() -> None:
    assert device_path("/x.zip!/data/data/com.a.b/files/a%21b.txt") == "/data/data/com.a.b/files/a!b.txt"
    assert device_path("/x.tar!/private/var/mobile/a.db#2") == "/private/var/mobile/a.db#2"


def test_rules_and_roots() -> None:
    a = locate("/x.zip!/Dump/data/data/com.whatsapp/databases/msgstore.db")
    b = locate("/x.zip!/Dump/data/media/0/WhatsApp/Media/a.jpg")
    c = locate("/x.zip!/Other/data/media/0/WhatsApp/Media/a.jpg")
    assert a and b and c and a.root == b.root == "/x.zip!/Dump" and c.root != a.root
    assert a.rule == "data"
    got = locate("/x.zip!/filesystem2/mobile/a")
    assert got and got.rule.startswith("cellebrite filesystem2") and got.root == "/x.zip!"


def test_packages_and_styles() -> None:
    assert android_package("/data/user/0/com.whatsapp/databases/msgstore.db") == (
        "com.whatsapp",
        "/data/user/0",
    )
    assert android_package("/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/a") == (
        "com.whatsapp",
        "/storage/emulated/0/Android/media",
    )
    assert android_package("/data/system/packages.xml") is None
    assert package_root("/x.zip!/sbin/.magisk/mirror/data/data/com.whatsapp/databases/wa.db") == (
        "com.whatsapp",
        "sbin/.magisk/mirror/data/data",
    )
    assert package_root("/x.zip!/Dump/data/user/0/com.whatsapp/a") == ("com.whatsapp", "data/user/0")
    assert canonical("/data/user/0/com.whatsapp/a") == "/data/data/com.whatsapp/a"

"""Encrypted iTunes/Finder backups (iOS >= 10.2): the keybag, the password and per-file keys.

The scheme (Apple's, as documented by the iphone-dataprotection work and the maintained readers
``iphone_backup_decrypt`` and ``pyiosbackup``): ``Manifest.plist`` holds ``BackupKeyBag``, a TLV blob
with salts, iteration counts and one wrapped key per protection class. The password is derived twice
(PBKDF2-HMAC-SHA256 with ``DPSL``/``DPIC``, then PBKDF2-HMAC-SHA1 with ``SALT``/``ITER``) into the key
that unwraps (RFC 3394 AES key wrap) each class key; a wrong password fails the key wrap's integrity
check. ``ManifestKey`` (4 bytes class, little-endian, then a wrapped key) opens ``Manifest.db``; each
file's key sits in its MBFile record the same way. Content is AES-256-CBC with a zero IV and PKCS#7
padding.

Why not ``iphone_backup_decrypt`` itself: it decrypts ``Manifest.db`` into a temporary folder of its
own choosing (the examiner's scratch space must hold it), reads each file whole into memory, and
brings a second crypto library (pycryptodome). Here the primitives come from ``cryptography`` (which
the synthetic writer needs anyway) and content is decrypted in a stream into the walk's bounded sink.
The same safety limits as ``iphone_backup_decrypt`` apply to the iteration counts (a hostile
``Manifest.plist`` must not make the key derivation run for hours).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

#: Iteration caps (as ``iphone_backup_decrypt`` 0.11 sets them): real backups use 10,000,000 / 10,000.
MAX_DPIC = 50_000_000
MAX_ITER = 1_000_000
#: The class-key ``WRAP`` bit that says "wrapped with the password-derived key".
WRAP_PASSCODE = 2
ZERO_IV = b"\x00" * 16
CHUNK = 1024 * 1024


class KeybagError(ValueError):
    """The keybag cannot be used: malformed, hostile iteration counts, or no password fits it."""


class WrongPassword(KeybagError):
    """No password given unwraps the class keys (the key wrap's integrity check failed)."""


class TruncatedCiphertext(ValueError):
    """The encrypted file's length is not a whole number of AES blocks (cut short)."""


def tlv_blocks(blob: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(tag, value)`` of each block of a keybag (4-byte tag, 4-byte big-endian length)."""
    pos = 0
    while pos + 8 <= len(blob):
        tag = blob[pos : pos + 4]
        (length,) = struct.unpack(">L", blob[pos + 4 : pos + 8])
        yield tag, blob[pos + 8 : pos + 8 + length]
        pos += 8 + length


def _num(value: bytes) -> int:
    return int.from_bytes(value, "big") if len(value) <= 8 else -1


@dataclass
class Keybag:
    """A parsed ``BackupKeyBag``: the global attributes and each class's wrapped key."""

    attrs: dict[bytes, bytes] = field(default_factory=dict)
    #: class number -> its TLV fields (``CLAS``, ``WRAP``, ``KTYP``, ``WPKY``)
    classes: dict[int, dict[bytes, bytes]] = field(default_factory=dict)

    @classmethod
    def parse(cls, blob: bytes) -> Keybag:
        bag = cls()
        current: dict[bytes, bytes] | None = None
        seen_uuid = False
        for tag, value in tlv_blocks(blob):
            if tag == b"UUID" and not seen_uuid:
                seen_uuid = True  # the first UUID is the keybag's own
                bag.attrs[tag] = value
            elif tag == b"UUID":
                # every later UUID opens the next class key's block
                if current is not None and b"CLAS" in current:
                    bag.classes[_num(current[b"CLAS"])] = current
                current = {tag: value}
            elif current is not None and tag in (b"CLAS", b"WRAP", b"WPKY", b"KTYP", b"PBKY"):
                current[tag] = value
            elif current is None:
                bag.attrs[tag] = value
        if current is not None and b"CLAS" in current:
            bag.classes[_num(current[b"CLAS"])] = current
        for need in (b"SALT", b"ITER", b"DPSL", b"DPIC"):
            if need not in bag.attrs:
                raise KeybagError(f"backup keybag has no {need.decode()} (not an iOS >= 10.2 keybag)")
        if not bag.classes:
            raise KeybagError("backup keybag holds no class keys")
        return bag

    def passcode_key(self, password: str) -> bytes:
        """The password-derived key (the slow part: ``DPIC`` rounds of PBKDF2-SHA256)."""
        dpic, it = _num(self.attrs[b"DPIC"]), _num(self.attrs[b"ITER"])
        if not 1 <= dpic <= MAX_DPIC or not 1 <= it <= MAX_ITER:
            raise KeybagError(f"backup keybag iteration counts out of range (DPIC {dpic}, ITER {it})")
        first = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), self.attrs[b"DPSL"], dpic, 32)
        return hashlib.pbkdf2_hmac("sha1", first, self.attrs[b"SALT"], it, 32)

    def unlock(self, password: str) -> dict[int, bytes]:
        """Every class key the password opens; :class:`WrongPassword` when it opens none."""
        key = self.passcode_key(password)
        out: dict[int, bytes] = {}
        for number, fields in self.classes.items():
            if b"WPKY" not in fields or not _num(fields.get(b"WRAP", b"\x00")) & WRAP_PASSCODE:
                continue
            try:
                out[number] = aes_key_unwrap(key, fields[b"WPKY"])
            except (InvalidUnwrap, ValueError):
                raise WrongPassword("the password does not unwrap the backup's class keys") from None
        if not out:
            raise WrongPassword("no class key of the backup is wrapped with a password")
        return out


_UNLOCKED: dict[bytes, dict[int, bytes]] = {}


def unlock(blob: bytes, passwords: tuple[str, ...]) -> dict[int, bytes]:
    """The class keys of the keybag ``blob``, from the first of ``passwords`` that opens it.

    Remembered for the process (keyed by a digest of keybag and password, never the password
    itself): reopening one file of the backup later must not cost ten million PBKDF2 rounds again.
    """
    bag = Keybag.parse(blob)
    for password in passwords:
        memo = hashlib.sha256(blob + b"\x00" + password.encode("utf-8")).digest()
        if memo in _UNLOCKED:
            return _UNLOCKED[memo]
        try:
            keys = bag.unlock(password)
        except WrongPassword:
            continue
        _UNLOCKED[memo] = keys
        return keys
    raise WrongPassword("no password given unwraps the backup's class keys")


def unwrap_file_key(class_keys: dict[int, bytes], wrapped: bytes) -> bytes:
    """A file's (or the manifest's) AES key from its 4-byte class + wrapped key field."""
    if len(wrapped) < 4 + 24:
        raise KeybagError(f"wrapped key too short ({len(wrapped)} bytes)")
    (klass,) = struct.unpack("<L", wrapped[:4])
    if klass not in class_keys:
        raise KeybagError(f"protection class {klass} has no key in the backup's keybag")
    try:
        return aes_key_unwrap(class_keys[klass], wrapped[4:])
    except (InvalidUnwrap, ValueError):
        raise KeybagError(f"the file key does not unwrap with class {klass}'s key (corrupt record)") from None


def decrypt_stream(src: BinaryIO, key: bytes, write: object, size_hint: int | None = None) -> int:
    """Decrypt ``src`` (AES-CBC, zero IV) into ``write(chunk)``; padding removed. Bytes written.

    The last block is held back until the end so the PKCS#7 padding can be checked and cut; when
    it is not valid padding (a file iOS recorded with a stale size), the content is cut to
    ``size_hint`` instead, or kept whole.
    """
    sink = write  # a callable taking bytes (a MemberSink's write, a file's write)
    assert callable(sink)
    dec = Cipher(algorithms.AES(key), modes.CBC(ZERO_IV)).decryptor()
    held = b""
    total = 0
    while block := src.read(CHUNK):
        plain = held + dec.update(block)
        held, plain = plain[-16:], plain[:-16]
        if plain:
            sink(plain)
            total += len(plain)
    try:
        tail = held + dec.finalize()
    except ValueError:  # cryptography: "not a multiple of the block length"
        raise TruncatedCiphertext("encrypted data is not a whole number of AES blocks (cut short)") from None
    if total == 0 and not tail and size_hint:
        raise TruncatedCiphertext("encrypted data is not a whole number of AES blocks")
    if tail:
        pad = tail[-1]
        if 1 <= pad <= 16 and tail.endswith(bytes([pad]) * pad):
            tail = tail[:-pad]
        elif size_hint is not None and total <= size_hint <= total + len(tail):
            tail = tail[: size_hint - total]
    if tail:
        sink(tail)
        total += len(tail)
    return total

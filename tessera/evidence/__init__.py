"""Evidence sources: directory trees (later disk images) and the containers inside them.

``iter_evidence(root)`` yields one :class:`~tessera.records.EvidenceItem` per file, archives opened
in place with chained locators (``/Download/backup.zip!/photos/a.png``). Evidence is only ever read.
"""

# Importing registers the built-in plugins; the order formats are tried in is their priority, not this.
from tessera.evidence import (  # noqa: F401
    compressed,
    cpio,
    directory,
    disk,
    itunes_backup,
    tar,
    ufdr,
    zip,
)
from tessera.evidence.base import (
    CONTAINERS,
    SOURCES,
    ContainerFormat,
    EvidenceError,
    EvidenceSource,
    Limits,
    discard_spool,
    display_name,
    is_spooled,
    open_item,
    open_readonly,
)
from tessera.evidence.walk import expand, iter_evidence, pick_source, sniff_container

__all__ = [
    "CONTAINERS",
    "SOURCES",
    "ContainerFormat",
    "EvidenceError",
    "EvidenceSource",
    "Limits",
    "discard_spool",
    "display_name",
    "expand",
    "is_spooled",
    "iter_evidence",
    "open_item",
    "open_readonly",
    "pick_source",
    "sniff_container",
]

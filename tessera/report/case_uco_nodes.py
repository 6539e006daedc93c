"""CASE/UCO JSON-LD building blocks: the context, deterministic IRIs, typed literals, a streaming
JSON writer, and one builder per kind of node (files, devices, accounts, messages, ...).

The builders return plain ``dict`` nodes; :mod:`tessera.report.case_uco` queries the case and writes
them. Every IRI ends in a UUID (CASE's ``UcoThing-identifier-regex-shape``) derived with UUIDv5 from
the case and the record's natural key, so exporting the same case twice gives the same IRIs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from tessera.hashing.algorithms import column_names

#: The CASE release the export is written for (and validated against, with case-utils' bundled copy).
CASE_VERSION = "1.5.0"
#: Tessera's own terms, where CASE/UCO has none (PDQ, hash-set match details, categories).
TESSERA_NS = "urn:tessera:case-uco:1#"
KB_NS = "urn:tessera:kb:"

CONTEXT: dict[str, str] = {
    "kb": KB_NS,
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "co": "http://purl.org/co/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "tessera": TESSERA_NS,
}

#: Our algorithm names -> UCO's HashNameVocab (values outside it fail case_validate's default run).
HASH_METHODS = column_names("case_uco")

Node = dict[str, Any]


class Stream:
    """A JSON array whose items come from an iterator and are written as they come."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def dump(fh: IO[str], value: Any) -> None:
    """Write ``value`` as JSON, expanding :class:`Stream` arrays item by item (bounded memory)."""
    if isinstance(value, Stream):
        fh.write("[")
        for i, item in enumerate(value.items):
            fh.write(", " if i else "")
            dump(fh, item)
        fh.write("]")
    elif isinstance(value, dict):
        fh.write("{")
        for i, (key, item) in enumerate(value.items()):
            fh.write(", " if i else "")
            fh.write(json.dumps(key) + ": ")
            dump(fh, item)
        fh.write("}")
    elif isinstance(value, list):
        dump(fh, Stream(value))
    else:
        fh.write(json.dumps(value))


class GraphWriter:
    """A JSON-LD document whose ``@graph`` is written node by node."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.count = 0
        fh.write('{\n"@context": ' + json.dumps(CONTEXT, indent=1) + ',\n"@graph": [\n')

    def add(self, node: Node) -> None:
        """A node without :class:`Stream` values (the fast path: one ``json.dumps``)."""
        self.fh.write((",\n" if self.count else "") + json.dumps(node))
        self.count += 1

    def add_streaming(self, node: Node) -> None:
        self.fh.write(",\n" if self.count else "")
        dump(self.fh, node)
        self.count += 1

    def close(self) -> None:
        self.fh.write("\n]\n}\n")


class Iris:
    """Deterministic IRIs: ``kb:<kind>-<uuid5(case namespace, kind + key)>``."""

    def __init__(self, case_key: str) -> None:
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:tessera:case:{case_key}")

    def __call__(self, kind: str, *key: object) -> str:
        name = "\x1f".join([kind, *(str(k) for k in key)])
        return f"kb:{kind}-{uuid.uuid5(self.ns, name)}"

    def sub(self, iri: str, part: str) -> str:
        """The IRI of a facet or other part belonging to the node ``iri``."""
        return self(part, iri)


def ref(iri: str) -> Node:
    return {"@id": iri}


def when(value: datetime | float | None) -> Node | None:
    """An ``xsd:dateTime`` literal in UTC; None where there is no time or it is out of range."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone
            moment = moment.astimezone(UTC)
        else:
            moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None  # left out rather than made up
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return {"@type": "xsd:dateTime", "@value": text + "Z"}


def put(node: Node, key: str, value: Any) -> None:
    """Set ``key`` unless the value is missing (None, empty text or list): absent, never blank."""
    if value is None or value == "" or value == []:
        return
    node[key] = value


def hashes(owner: str, iris: Iris, values: Iterable[tuple[str, str | None]]) -> list[Node]:
    out: list[Node] = []
    for algorithm, value in values:
        if not value:
            continue
        out.append(
            {
                "@id": iris.sub(owner, f"hash-{algorithm}"),
                "@type": "uco-types:Hash",
                "uco-types:hashMethod": HASH_METHODS[algorithm],
                "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value.lower()},
            }
        )
    return out


def file_node(row: Any, iris: Iris) -> Node:
    """A stored file occurrence: name, chained locator, times, allocation; its content's hashes."""
    iri = iris("file", row.device_id, row.locator)
    last = row.locator.rsplit("!", 1)[-1].rstrip("/")
    facet: Node = {"@id": iris.sub(iri, "file-facet"), "@type": "uco-observable:FileFacet"}
    put(facet, "uco-observable:fileName", last.rsplit("/", 1)[-1])
    facet["uco-observable:filePath"] = f"{row.device_id}:{row.locator}"
    put(facet, "uco-observable:sizeInBytes", row.size)
    facet["uco-observable:allocationStatus"] = "unallocated" if row.deleted else "allocated"
    put(facet, "uco-observable:modifiedTime", when(row.mtime))
    put(facet, "uco-observable:accessedTime", when(row.atime))
    put(facet, "uco-observable:metadataChangeTime", when(row.ctime))
    put(facet, "uco-observable:observableCreatedTime", when(row.crtime))
    node: Node = {"@id": iri, "@type": "uco-observable:File", "uco-core:hasFacet": [facet]}
    if row.sha256:
        content: Node = {"@id": iris.sub(iri, "content-facet"), "@type": "uco-observable:ContentDataFacet"}
        put(content, "uco-observable:sizeInBytes", row.media_size)
        put(content, "uco-observable:mimeType", row.mime)
        digests = (("md5", row.md5), ("sha1", row.sha1), ("sha256", row.sha256))
        content["uco-observable:hash"] = hashes(iri, iris, digests)
        put(content, "tessera:pdq", row.pdq)
        put(content, "tessera:pdqQuality", row.pdq_quality)
        node["uco-core:hasFacet"].append(content)
    tags = [name for name, on in (("deleted", row.deleted), ("orphan", row.orphan)) if on]
    if row.is_symlink:
        tags.append("symbolic-link")
    put(node, "uco-core:tag", tags)
    put(node, "uco-core:description", f"not fully read: {row.error}" if row.error else None)
    return node


def device_node(device: Any, facts: dict[str, str], iris: Iris) -> Node:
    iri = iris("device", device.id)
    facet: Node = {"@id": iris.sub(iri, "device-facet"), "@type": "uco-observable:DeviceFacet"}
    facet["uco-observable:deviceType"] = device.kind
    put(facet, "uco-observable:model", facts.get("model"))
    put(facet, "uco-observable:serialNumber", facts.get("serial"))
    node: Node = {
        "@id": iri,
        "@type": "uco-observable:Device",
        "uco-core:name": device.id,
        "uco-core:hasFacet": [facet],
    }
    if facts.get("imei"):
        node["uco-core:hasFacet"].append(
            {
                "@id": iris.sub(iri, "mobile-device-facet"),
                "@type": "uco-observable:MobileDeviceFacet",
                "uco-observable:IMEI": facts["imei"],
            }
        )
    put(node, "uco-core:tag", [f"suspect:{device.suspect}"] if device.suspect else [])
    put(node, "tessera:seizureDate", device.seizure_date)
    # The rest of what the extraction says (OS, ICCID, tool, ...) as written, name by name.
    rest = {k: v for k, v in sorted(facts.items()) if k not in ("model", "serial", "imei")}
    put(node, "tessera:fact", [f"{k}={v}" for k, v in rest.items()])
    return node


def evidence_file_node(device: Any, iris: Iris) -> Node | None:
    """The evidence file a device was read from (an E01, a UFDR), with the hash it carried."""
    if not device.evidence_hash or ":" not in device.evidence_hash:
        return None
    algorithm, value = device.evidence_hash.split(":", 1)
    iri = iris("evidence-file", device.id)
    node: Node = {
        "@id": iri,
        "@type": "uco-observable:File",
        "uco-core:name": f"evidence file of {device.id}",
        "uco-core:hasFacet": [
            {
                "@id": iris.sub(iri, "file-facet"),
                "@type": "uco-observable:FileFacet",
                "uco-observable:filePath": device.source_path or "",
            }
        ],
    }
    if algorithm in HASH_METHODS:
        node["uco-core:hasFacet"].append(
            {
                "@id": iris.sub(iri, "content-facet"),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:hash": hashes(iri, iris, [(algorithm, value)]),
            }
        )
    else:
        node["tessera:evidenceHash"] = device.evidence_hash
    return node


def application_node(platform: str, iris: Iris) -> Node:
    iri = iris("application", platform)
    return {
        "@id": iri,
        "@type": "uco-observable:Application",
        "uco-core:name": platform,
        "uco-core:hasFacet": [
            {
                "@id": iris.sub(iri, "application-facet"),
                "@type": "uco-observable:ApplicationFacet",
                "uco-observable:applicationIdentifier": platform,
            }
        ],
    }


def account_node(acc: Any, raw_ids: list[str], iris: Iris) -> Node:
    """An account with the identifier Tessera keys it by, and every raw identifier sources wrote."""
    iri = iris("account", acc.platform, acc.key)
    facets: list[Node] = [
        {
            "@id": iris.sub(iri, "account-facet"),
            "@type": "uco-observable:AccountFacet",
            "uco-observable:accountIdentifier": acc.key,
        },
        {
            "@id": iris.sub(iri, "application-account-facet"),
            "@type": "uco-observable:ApplicationAccountFacet",
            "uco-observable:application": ref(iris("application", acc.platform)),
        },
    ]
    digital: Node = {
        "@id": iris.sub(iri, "digital-account-facet"),
        "@type": "uco-observable:DigitalAccountFacet",
    }
    put(digital, "uco-observable:displayName", acc.display_name)
    put(digital, "uco-observable:accountLogin", acc.username)
    if len(digital) > 2:
        facets.append(digital)
    if acc.phone:
        facets.append(
            {
                "@id": iris.sub(iri, "phone-account-facet"),
                "@type": "uco-observable:PhoneAccountFacet",
                "uco-observable:phoneNumber": acc.phone,
            }
        )
    node: Node = {"@id": iri, "@type": "uco-observable:ApplicationAccount", "uco-core:hasFacet": facets}
    put(node, "tessera:rawIdentifier", sorted(set(raw_ids)))
    put(node, "tessera:displayNames", sorted(set(acc.names or [])))
    put(node, "tessera:country", acc.country)
    return node


def message_node(row: Any, iris: Iris) -> Node:
    """A message's metadata: sender, time, kind, attachment hash. Never its text (SPEC: exports carry
    hashes and metadata only)."""
    iri = iris("message", row.device_id, row.locator)
    facet: Node = {"@id": iris.sub(iri, "message-facet"), "@type": "uco-observable:MessageFacet"}
    facet["uco-observable:application"] = ref(iris("application", row.platform))
    if row.sender_platform is not None:
        facet["uco-observable:from"] = ref(iris("account", row.sender_platform, row.sender_key))
    put(facet, "uco-observable:sentTime", when(row.time))
    put(facet, "uco-observable:messageID", row.raw_id)
    facet["uco-observable:messageType"] = row.kind
    node: Node = {"@id": iri, "@type": "uco-observable:Message", "uco-core:hasFacet": [facet]}
    put(node, "tessera:locator", f"{row.device_id}:{row.locator}")
    put(node, "tessera:attachmentSHA256", row.media_sha256)
    if row.forwarded:
        node["tessera:forwarded"] = True
    put(node, "tessera:action", row.action)
    return node


def thread_node(chat: Any, participants: list[str], messages: Iterator[str], iris: Iris) -> Node:
    """A group or chat: its participants and (streamed) its messages, as an unordered UCO thread."""
    iri = iris("thread", chat.platform, chat.key)

    def items() -> Iterator[Node]:
        for message in messages:
            yield {
                "@id": iris.sub(message, "thread-item"),
                "@type": "uco-types:ThreadItem",
                "co:itemContent": ref(message),
            }

    facet: Node = {
        "@id": iris.sub(iri, "thread-facet"),
        "@type": "uco-observable:MessageThreadFacet",
        "uco-observable:participant": [ref(p) for p in participants],
        "uco-observable:messageThread": {
            "@id": iris.sub(iri, "thread"),
            "@type": "uco-types:Thread",
            "co:item": Stream(items()),
        },
    }
    node: Node = {"@id": iri, "@type": "uco-observable:MessageThread", "uco-core:hasFacet": [facet]}
    put(node, "uco-core:name", chat.title)
    node["uco-core:tag"] = [f"kind:{chat.kind}"]
    put(node, "tessera:identifier", chat.key)
    put(node, "tessera:createdTime", when(chat.created_at))
    if chat.creator_platform is not None:
        node["tessera:creator"] = ref(iris("account", chat.creator_platform, chat.creator_key))
    return node

"""Cellebrite ``report.xml`` decoded chats: plugin "ufdr-report".

Reads the ``Chat`` models of a UFDR's ``report.xml`` (or of a loose report, or of a fragment whose
root is a ``Chat`` model, namespace or not) with their ``InstantMessage`` children, participants
(``Party``), the device's own ``UserAccount`` models and attachments, streamed: the document is walked
with ``iterparse``, each message is turned into a record and dropped, so a report of gigabytes is read
in bounded memory (a chat's own fields and participants are held while its messages stream).

Platforms: a chat's ``Source`` names the app (``WhatsApp``, ``WhatsApp Business`` -> ``whatsapp``,
``Telegram`` -> ``telegram``); identifiers are the app's own, so a JID read here and the same JID read
from an Android ``msgstore.db`` are one account (``ufdr_models.account_id``). Chats of other apps are
counted and skipped with the app named (their messages are evidence this parser does not store).

Reconciliation (``ctx.coverage``): unit ``chats`` counts every top-level Chat model; unit ``instant
messages`` counts every InstantMessage model in the document, nested ones included: a chat's message
is parsed or skipped with the reason; a copy inside another message (a quoted, replied-to or forwarded
original: ``EmbeddedInstantMessage``, ``ReplyMessageData``) is ignored as a copy, its content kept in
the holding message's ``raw`` (and a forwarded message with no content of its own takes its
original's text and attachments); one outside any chat is skipped. ``user accounts`` counts the
device's UserAccount models.

Attachments: ``file_id`` names a tagged file of the same report, ``attachment_extracted_path`` its
member in the UFDR. ``MediaRef.path`` is the locator the UFDR evidence plugin gives that file (its
device path inside the UFDR; the member's own name when the report does not tag it; beside the
report when the report lies in a folder), ``MediaRef.sha256`` the report's hash of it when stated.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from tessera.evidence.base import escape_layer, open_item
from tessera.evidence.ufdr_report import ReportError, TaggedFile, events, read_header
from tessera.messaging import ufdr_models as um
from tessera.messaging.base import PARSERS, ParseContext
from tessera.messaging.coverage import Coverage
from tessera.messaging.records import (
    AccountRecord,
    ChatRecord,
    MediaRef,
    MembershipRecord,
    MessageRecord,
    MessagingRecord,
    ParseError,
)
from tessera.messaging.whatsapp_db_common import base_name, chat_kind, phone_of
from tessera.records import LOCATOR_SEP, Opener

MESSAGES, CHATS, ACCOUNTS = "instant messages", "chats", "user accounts"
_COPY = "copy inside another message (quoted, replied-to or forwarded original), read with it"


class _Files:
    """The report's tagged files, to turn an attachment into the locator of its file."""

    def __init__(self, ctx: ParseContext, files: list[TaggedFile]) -> None:
        self.by_id = {tf.file_id: tf for tf in files if tf.file_id}
        self.by_local = {tf.local: tf for tf in files if tf.local}
        parent = ctx.locator.rsplit("/", 1)[0]
        #: The report is a member at the root of a UFDR: files are shown under their device paths.
        self.in_ufdr = parent.endswith(LOCATOR_SEP)
        self.base = parent

    def media(self, att: um.Attachment) -> MediaRef:
        tf = self.by_id.get(att.file_id or "") or self.by_local.get(att.extracted or "")
        path: str | None = None
        if tf is not None and self.in_ufdr and tf.path:
            path = self.base + escape_layer("/" + tf.path.lstrip("/"))
        elif tf is not None and tf.local:
            path = f"{self.base}/{tf.local}"
        elif att.extracted:
            path = f"{self.base}/{att.extracted}"
        return MediaRef(
            sha256=tf.sha256 if tf is not None else None,
            path=path,
            file_name=att.filename,
            mime=att.content_type,
            size=tf.size if tf is not None and tf.size is not None else att.size,
        )


class _Chat:
    """One top-level Chat model while its messages stream."""

    def __init__(self, reader: _Reader, elem: ET.Element) -> None:
        self.r = reader
        self.elem = elem
        self.model_id = elem.get("id") or "?"
        self.loc = f"{reader.ctx.locator}#model/{self.model_id}"
        self.ready = False
        self.platform: str | None = None
        self.app: str | None = None
        self.raw_id = ""
        self.members: set[str] = set()

    def header(self) -> Iterator[MessagingRecord]:
        """The chat and its participants, from what precedes the messages (called once)."""
        if self.ready:
            return
        self.ready = True
        e = self.elem
        self.app = um.field(e, "Source")
        self.platform = um.platform_of(self.app)
        cov = self.r.cov
        if self.platform is None:
            cov.skip(CHATS, f"chat of {self.app or 'an unnamed app'}: no platform read from UFDR", self.loc)
            return
        cov.parsed(CHATS)
        self.raw_id = um.field(e, "Id") or f"ufdr:chat-{self.model_id}@{self.r.ctx.device_id or 'device'}"
        parties = [um.Party.of(p) for p in um.models(e, "Participants")]
        kind = um.CHAT_TYPES.get(um.field(e, "ChatType") or "")
        if kind is None:
            if self.platform == "whatsapp" and "@" in self.raw_id:
                kind = chat_kind(self.raw_id)
            else:
                kind = "group" if len(parties) > 2 else "private"
        for p in parties:
            yield from self.r.account(self.platform, p, self.loc)
        yield ChatRecord(self.platform, self.raw_id, title=um.field(e, "Name"), kind=kind, locator=self.loc)
        for p in parties:
            acc = um.account_id(self.platform, p.identifier)
            if acc and acc not in self.members:
                self.members.add(acc)
                role = "admin" if p.admin else "member"
                yield MembershipRecord(self.platform, self.raw_id, acc, role=role, locator=self.loc)

    def message(self, elem: ET.Element) -> Iterator[MessagingRecord]:
        yield from self.header()
        cov, ctx = self.r.cov, self.r.ctx
        loc = f"{ctx.locator}#model/{elem.get('id') or '?'}"
        nested = um.nested_messages(elem)
        if nested:
            cov.ignore(MESSAGES, _COPY, loc, n=nested)
        if self.platform is None:
            cov.skip(
                MESSAGES, f"message of a {self.app or 'unnamed app'} chat: no platform read from UFDR", loc
            )
            return
        raw_time, when = um.timestamp(elem)
        if when is None:
            why = (
                "no time stamp" if raw_time is None else f"time stamp without zone or unreadable ({raw_time})"
            )
            cov.skip(MESSAGES, why, loc)
            return
        senders = um.models(elem, "From")
        party = um.Party.of(senders[0]) if senders else um.Party(None, None, False, False)
        labels = um.labels(elem)
        system = party.identifier == um.SYSTEM_SENDER or "System" in labels
        sender = None if system else um.account_id(self.platform, party.identifier)
        if sender is not None:
            yield from self.r.account(self.platform, party, loc)
        body = um.field(elem, "Body")
        atts = um.attachments(elem)
        refs, copies = um.quoted(elem)
        raw: dict[str, Any] = {"model_id": elem.get("id"), "time": raw_time, "from": party.identifier}
        if party.name:
            raw["from_name"] = party.name  # the only trace of a sender the report names without an id
        app = um.field(elem, "SourceApplication")
        if app:
            raw["source_application"] = app
        if app and um.platform_of(app) != self.platform:
            cov.note(
                "messages whose SourceApplication differs from their chat's Source are read in the "
                f"chat's platform ({self.platform})"
            )
        if elem.get("deleted_state") and elem.get("deleted_state") != "Intact":
            raw["deleted_state"] = elem.get("deleted_state")
        if refs:
            raw["quotes"] = refs
        embedded = [
            c
            for c in copies
            if c.get("type") == "InstantMessage" and c in um.models(elem, "EmbeddedInstantMessage")
        ]
        raw["attachments"] = [a.raw() for a in atts]
        shared = [_contact(c) for c in um.models(elem, "SharedContacts")]
        if shared:
            raw["shared_contacts"] = shared
        if not body and not atts:
            for copy in embedded:
                inner = um.attachments(copy)
                if um.field(copy, "Body") or inner:
                    # A forward holds its original as an embedded copy: its content is this message's.
                    body, atts = um.field(copy, "Body"), inner
                    raw["content_from"] = copy.get("id")
                    raw["content_attachments"] = [a.raw() for a in inner]
                    break
        action, targets = self._activity(elem)
        kind = (
            "system" if system else um.kind_of(atts[0].content_type) if atts else "text" if body else "other"
        )
        rec = MessageRecord(
            self.platform,
            self.raw_id,
            sender,
            when,
            kind=kind,
            text=body,
            forwarded="Forwarded" in labels,
            media=self.r.files.media(atts[0]) if atts else None,
            raw_id=um.field(elem, "Identifier") or elem.get("id"),
            action=action,
            targets=targets,
            from_me=party.owner or (sender is not None and sender in self.r.owners),
            locator=loc,
            raw=raw,
        )
        cov.parsed(MESSAGES)
        yield rec

    def _activity(self, elem: ET.Element) -> tuple[str | None, list[str]]:
        action: str | None = None
        targets: list[str] = []
        assert self.platform is not None
        for act in um.models(elem, "ActivityLog"):
            action = action or um.ACTIONS.get(um.field(act, "Action") or "")
            for p in um.models(act, "Participant"):
                acc = um.account_id(self.platform, um.Party.of(p).identifier)
                if acc:
                    targets.append(acc)
        return action, targets

    def finish(self) -> Iterator[MessagingRecord]:
        yield from self.header()  # a chat without a Messages field still names its participants


def _contact(model: ET.Element) -> dict[str, Any]:
    """A contact card shared in a message, kept raw (name and entries as written)."""
    return {
        "name": um.field(model, "Name"),
        "entries": [um.field(e, "Value") for e in um.models(model, "Entries")],
    }


class _Reader:
    def __init__(self, ctx: ParseContext, files: _Files) -> None:
        self.ctx = ctx
        self.cov = ctx.coverage
        self.files = files
        self.seen: set[tuple[str, str]] = set()
        self.owners: set[str] = set()

    def account(self, platform: str, party: um.Party, loc: str) -> Iterator[AccountRecord]:
        acc = um.account_id(platform, party.identifier)
        if acc is None:
            return
        if party.owner:
            self.owners.add(acc)
        key = (platform, acc)
        if key in self.seen:
            return
        self.seen.add(key)
        phone = phone_of(acc) if platform == "whatsapp" else None
        yield AccountRecord(
            platform, acc, phone=phone, display_name=party.name, is_device_owner=party.owner, locator=loc
        )

    def user_account(self, elem: ET.Element) -> Iterator[AccountRecord]:
        """A UserAccount model: an account set up on the device, so the device owner's."""
        loc = f"{self.ctx.locator}#model/{elem.get('id') or '?'}"
        app = um.field(elem, "Source") or um.field(elem, "ServiceType")
        platform = um.platform_of(app)
        if platform is None:
            self.cov.ignore(
                ACCOUNTS, f"account of {app or 'an unnamed app'}: no messaging platform read from UFDR", loc
            )
            return
        values = [um.field(e, "Value") for e in um.models(elem, "Entries")]
        ident = um.field(elem, "Username") or next((v for v in values if v), None)
        if platform == "whatsapp" and ident and ident.lstrip("+").isdigit():
            ident = ident.lstrip("+") + "@s.whatsapp.net"  # the number WhatsApp registered, as its JID
        acc = um.account_id(platform, ident)
        if acc is None:
            self.cov.skip(ACCOUNTS, "UserAccount without an identifier", loc)
            return
        self.cov.parsed(ACCOUNTS)
        self.owners.add(acc)
        self.seen.add((platform, acc))
        phone = phone_of(acc) if platform == "whatsapp" else None
        yield AccountRecord(
            platform, acc, phone=phone, display_name=um.field(elem, "Name"), is_device_owner=True, locator=loc
        )

    def run(self, fh: Any) -> Iterator[MessagingRecord]:
        stack: list[ET.Element] = []
        open_models = 0
        chat: _Chat | None = None
        cov = self.cov
        for event, elem in events(fh):
            if event == "start":
                stack.append(elem)
                if elem.tag == "model":
                    kind = elem.get("type")
                    if kind == "InstantMessage":
                        cov.holds(MESSAGES, 1)
                    elif kind == "Chat" and open_models == 0:
                        cov.holds(CHATS, 1)
                        chat = _Chat(self, elem)
                    elif kind == "UserAccount" and open_models == 0:
                        cov.holds(ACCOUNTS, 1)
                    open_models += 1
                elif (
                    chat is not None
                    and open_models == 1
                    and elem.tag == "multiModelField"
                    and elem.get("name") == "Messages"
                ):
                    yield from chat.header()
                continue
            stack.pop()
            if elem.tag != "model":
                if open_models == 0 and len(stack) == 2:
                    stack[-1].remove(elem)  # report sections' entries (the file list): read already
                continue
            open_models -= 1
            parent = stack[-1] if stack else None
            kind = elem.get("type")
            if (
                chat is not None
                and open_models == 1
                and kind == "InstantMessage"
                and parent is not None
                and parent.get("name") == "Messages"
            ):
                yield from chat.message(elem)
            elif open_models == 0 and kind == "Chat" and chat is not None:
                yield from chat.finish()
                chat = None
            elif open_models == 0 and kind == "UserAccount":
                yield from self.user_account(elem)
            elif open_models == 0 or (chat is not None and open_models == 1 and kind == "InstantMessage"):
                # Any other model: its messages (a stray InstantMessage, or one kept elsewhere in a
                # chat than its Messages) are counted as skipped, never silently dropped.
                n = sum(1 for m in elem.iter("model") if m.get("type") == "InstantMessage")
                if n:
                    where = f"{kind} model" if kind != "InstantMessage" else "no Chat model's Messages"
                    cov.skip(
                        MESSAGES,
                        f"InstantMessage in {where}: not read",
                        f"{self.ctx.locator}#model/{elem.get('id')}",
                        n=n,
                    )
            else:
                continue  # a model inside a chat (its participants) or a message: read with its holder
            if parent is not None:
                parent.remove(elem)  # read: its memory goes (the report is never held whole)


class UfdrReportParser:
    """Options: none. The report's own file list (``taggedFiles``) is read first, in a pass that
    stops where the decoded data begins, so attachments resolve to the files the UFDR holds."""

    name: ClassVar[str] = "ufdr-report"
    #: ``report.xml`` and any XML an examiner renamed or cut: ``detect`` looks at its first bytes.
    patterns: ClassVar[tuple[str, ...]] = ("*.xml",)
    companions: ClassVar[tuple[str, ...]] = ()
    #: Attachments carry absolute locators (their files' place in the UFDR): no root to search.
    media_roots: ClassVar[tuple[str, ...]] = ()
    #: The report decodes databases the UFDR also holds (ChatStorage.sqlite, msgstore.db): parsed
    #: after them, its copies of their messages counted as ignored (``tessera.ingest.secondary``).
    secondary: ClassVar[bool] = True
    message_unit: ClassVar[str] = MESSAGES

    def detect(self, locator: str, head: bytes) -> bool:
        return b"pa.cellebrite.com/report" in head or (
            b"<model" in head[:512] and b'type="Chat"' in head[:512]
        )

    def parse(self, ctx: ParseContext) -> Iterator[MessagingRecord]:
        name = base_name(ctx.locator)
        try:
            with open_item(ctx.opener) as fh:
                header = read_header(fh)
            ctx.coverage.note(f"report files: {len(header.files)} tagged")
            with open_item(ctx.opener) as fh:
                yield from _Reader(ctx, _Files(ctx, header.files)).run(fh)
        except ReportError as exc:
            raise ParseError(f"{name}: {exc}") from exc
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc}") from exc


PARSERS.register(UfdrReportParser.name)(UfdrReportParser())


def parse_file(
    path: str | Path, *, coverage: Coverage | None = None, device_id: str | None = None
) -> Iterator[MessagingRecord]:
    """Parse a report on the examiner's file system (tests, ad-hoc use)."""
    p = Path(path)
    ctx = ParseContext(
        locator=str(p),
        opener=Opener(path=str(p)),
        scratch=p.parent,  # never written: the report is streamed, nothing is copied
        device_id=device_id,
        coverage=coverage if coverage is not None else Coverage(),
    )
    return UfdrReportParser().parse(ctx)


__all__ = ["UfdrReportParser", "parse_file"]

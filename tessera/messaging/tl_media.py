"""TL layouts of message media as Telegram for Android stores them (``TLRPC.java``): MessageMedia and
GeoPoint, and what a message record keeps of them (the photos and documents are in ``tl_files``).

Media whose body is decoded: empty, photo (layers 55-current), document (layers 44-current: the
file name, MIME type, size and attributes), geo, contact. Media kinds listed in :data:`NOT_READ`
(web page preview, poll, venue, game, invoice, dice, story, ...) are recognised by constructor only:
a message's own fields all come before its media, so such a message is still read, with its media
kind named and nothing of the media's body; what follows the media in the message (formatting
entities) is then not read.
"""

from __future__ import annotations

from tessera.messaging import tl_files  # noqa: F401  (registers photos, documents and their parts)
from tessera.messaging.tl import TL, Reader, register_empty, tl

# --- geo ---------------------------------------------------------------------------------------

register_empty("GeoPoint", {0x1117DD5F: "geoPointEmpty"})


@tl(0xB2A2F663, "GeoPoint", "geoPoint")
def _geo(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"long": r.double(), "lat": r.double(), "access_hash": r.int64()}
    if flags & 1:
        out["accuracy_radius"] = r.int32()
    return out


@tl(0x0296F104, "GeoPoint", "geoPoint_layer119")
def _geo_119(r: Reader) -> TL:
    return {"long": r.double(), "lat": r.double(), "access_hash": r.int64()}


@tl(0x2049D70C, "GeoPoint", "geoPoint_layer81")
def _geo_81(r: Reader) -> TL:
    return {"long": r.double(), "lat": r.double()}


# --- message media -----------------------------------------------------------------------------

register_empty("MessageMedia", {0x3DED6320: "messageMediaEmpty"})

#: Media recognised by constructor whose body is not read (see the module docstring).
NOT_READ = {
    0xDDF10C3B: "messageMediaWebPage", 0xA32DD600: "messageMediaWebPage_layer165",
    0x4BD6E798: "messageMediaPoll", 0x2EC0533F: "messageMediaVenue", 0x7912B71F: "messageMediaVenue_layer71",
    0xFDB19008: "messageMediaGame", 0xF6A548D3: "messageMediaInvoice", 0xB940C666: "messageMediaGeoLive",
    0x3F7EE58B: "messageMediaDice", 0x68CB6283: "messageMediaStory", 0x9F84F49E: "messageMediaUnsupported",
    0xAA073BEB: "messageMediaGiveaway", 0xC6991068: "messageMediaGiveawayResults",
    0xA8852491: "messageMediaPaidMedia", 0xCEAA3EA1: "messageMediaGiveawayResults_layer211",
    0xDAAD85B0: "messageMediaGiveaway_layer186", 0x58260664: "messageMediaGiveaway_layer167",
    0x84551347: "messageMediaInvoice_layer145", 0x8A53B014: "messageMediaToDo",
    0xCA5CAB89: "messageMediaVideoStream", 0x7C3C2609: "messageMediaGeoLive_layer119",
    0x638FE46B: "messageMediaDice_layer111", 0xCBB20D88: "messageMediaStory_layer163",
    0x5BCF1675: "messageMediaVideo_layer46", 0xA2D24290: "messageMediaVideo_layer27",
    0xC6B68300: "messageMediaAudio_layer45",
}  # fmt: skip
register_empty("MessageMedia", NOT_READ)


@tl(0x695150D7, "MessageMedia", "messageMediaPhoto")
def _mm_photo(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {}
    if flags & 1:
        out["photo"] = r.obj("Photo")
    if flags & 4:
        out["ttl_seconds"] = r.int32()
    return out


@tl(0xB5223B0F, "MessageMedia", "messageMediaPhoto_layer74")
def _mm_photo_74(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {}
    if flags & 1:
        out["photo"] = r.obj("Photo")
    if flags & 2:
        out["caption"] = r.string()
    if flags & 4:
        out["ttl_seconds"] = r.int32()
    return out


def _mm_document(r: Reader, *, caption: bool = False, alt: str = "", cover: bool = False) -> TL:
    flags = r.int32()
    out: TL = {"voice": bool(flags & 256), "round": bool(flags & 128)}
    if flags & 1:
        out["document"] = r.obj("Document")
    if caption and flags & 2:
        out["caption"] = r.string()
    if alt == "one" and flags & 32:
        out["alt_document"] = r.obj("Document")
    if alt == "many" and flags & 32:
        out["alt_documents"] = r.vector(lambda x: x.obj("Document"))
    if cover and flags & 512:
        out["video_cover"] = r.obj("Photo")
    if cover and flags & 1024:
        out["video_timestamp"] = r.int32()
    if flags & 4:
        out["ttl_seconds"] = r.int32()
    return out


tl(0x7C4414D3, "MessageMedia", "messageMediaDocument_layer74")(lambda r: _mm_document(r, caption=True))
tl(0x9CB070D7, "MessageMedia", "messageMediaDocument_layer159")(lambda r: _mm_document(r))
tl(0x4CF4D72D, "MessageMedia", "messageMediaDocument_layer187")(lambda r: _mm_document(r, alt="one"))
tl(0xDD570BD5, "MessageMedia", "messageMediaDocument_layer197")(lambda r: _mm_document(r, alt="many"))
tl(0x52D8CCD9, "MessageMedia", "messageMediaDocument")(lambda r: _mm_document(r, alt="many", cover=True))


@tl(0x3D8CE53D, "MessageMedia", "messageMediaPhoto_layer69")
def _mm_photo_69(r: Reader) -> TL:
    return {"photo": r.obj("Photo"), "caption": r.string()}


@tl(0xF3E02EA8, "MessageMedia", "messageMediaDocument_layer69")
def _mm_document_69(r: Reader) -> TL:
    return {"document": r.obj("Document"), "caption": r.string()}


@tl(0x2FDA2204, "MessageMedia", "messageMediaDocument_layer44")
def _mm_document_44(r: Reader) -> TL:
    return {"document": r.obj("Document")}


@tl(0x5E7D2F39, "MessageMedia", "messageMediaContact_layer81")
def _mm_contact_81(r: Reader) -> TL:
    out: TL = {"phone_number": r.string(), "first_name": r.string(), "last_name": r.string()}
    out["user_id"] = r.int32()
    return out


@tl(0x56E0D474, "MessageMedia", "messageMediaGeo")
def _mm_geo(r: Reader) -> TL:
    return {"geo": r.obj("GeoPoint")}


@tl(0x70322949, "MessageMedia", "messageMediaContact")
def _mm_contact(r: Reader) -> TL:
    out: TL = {"phone_number": r.string(), "first_name": r.string(), "last_name": r.string()}
    out["vcard"] = r.string()
    out["user_id"] = r.int64()
    return out


@tl(0xCBF24940, "MessageMedia", "messageMediaContact_layer132")
def _mm_contact_132(r: Reader) -> TL:
    out: TL = {"phone_number": r.string(), "first_name": r.string(), "last_name": r.string()}
    out["vcard"] = r.string()
    out["user_id"] = r.int32()
    return out


def media_summary(media: TL) -> TL:
    """What a message record keeps of its media: kind, ids, file name, MIME type, size."""
    name = media["_"]
    out: TL = {"media": name, "media_constructor": f"0x{media['cid']:08x}"}
    if name.startswith("messageMediaPhoto"):
        out["kind"] = "image"
        photo = media.get("photo") or {}
        if "id" in photo:
            out["photo_id"] = photo["id"]
        sizes = [s.get("size") for s in photo.get("sizes", []) if isinstance(s.get("size"), int)]
        if sizes:
            out["size"] = max(sizes)  # the largest stored size is the photo as sent
    elif name.startswith("messageMediaDocument"):
        doc = media.get("document") or {}
        out["kind"] = _doc_kind(doc, media)
        if "id" in doc:
            out["document_id"] = doc["id"]
        for key in ("mime_type", "size"):
            if key in doc:
                out[key] = doc[key]
        for attr in doc.get("attributes", []):
            if "file_name" in attr:
                out["file_name"] = attr["file_name"]
    elif name in ("messageMediaEmpty",):
        out["kind"] = "text"
    else:
        out["kind"] = "other"
    for key in ("caption",):
        if key in media:
            out[key] = media[key]
    return out


def _doc_kind(doc: TL, media: TL) -> str:
    attrs = {a["_"].split("_layer")[0] for a in doc.get("attributes", [])}
    audio = next((a for a in doc.get("attributes", []) if a["_"].startswith("documentAttributeAudio")), None)
    if "documentAttributeSticker" in attrs or "documentAttributeCustomEmoji" in attrs:
        return "sticker"
    if "documentAttributeVideo" in attrs or "documentAttributeAnimated" in attrs or media.get("round"):
        return "video"
    if audio is not None or media.get("voice"):
        return "audio"
    mime = str(doc.get("mime_type") or "")
    if mime.startswith("image/") and "documentAttributeFilename" not in attrs:
        return "image"
    return "document"

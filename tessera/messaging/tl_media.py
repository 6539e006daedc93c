"""TL layouts of message media as Telegram for Android stores them (``TLRPC.java``): MessageMedia,
Photo, PhotoSize, VideoSize, Document, DocumentAttribute, InputStickerSet, MaskCoords, GeoPoint.

Media whose body is decoded: empty, photo (layers 55-current), document (layers 44-current: the
file name, MIME type, size and attributes), geo, contact. Media kinds listed in :data:`NOT_READ`
(web page preview, poll, venue, game, invoice, dice, story, ...) are recognised by constructor only:
a message's own fields all come before its media, so such a message is still read, with its media
kind named and nothing of the media's body; what follows the media in the message (formatting
entities) is then not read.
"""

from __future__ import annotations

from tessera.messaging.tl import TL, Reader, register_empty, tl

# --- photo sizes ---------------------------------------------------------------------------------


@tl(0x0E17E23C, "PhotoSize", "photoSizeEmpty")
def _ps_empty(r: Reader) -> TL:
    return {"type": r.string()}


@tl(0x75C78E60, "PhotoSize", "photoSize")
def _ps(r: Reader) -> TL:
    return {"type": r.string(), "w": r.int32(), "h": r.int32(), "size": r.int32()}


@tl(0x021E1AD6, "PhotoSize", "photoCachedSize")
def _ps_cached(r: Reader) -> TL:
    return {"type": r.string(), "w": r.int32(), "h": r.int32(), "bytes": len(r.raw())}


@tl(0xE0B0BC2E, "PhotoSize", "photoStrippedSize")
def _ps_stripped(r: Reader) -> TL:
    return {"type": r.string(), "bytes": len(r.raw())}


@tl(0xD8214D41, "PhotoSize", "photoPathSize")
def _ps_path(r: Reader) -> TL:
    return {"type": r.string(), "bytes": len(r.raw())}


@tl(0xFA3EFB95, "PhotoSize", "photoSizeProgressive")
def _ps_progressive(r: Reader) -> TL:
    return {"type": r.string(), "w": r.int32(), "h": r.int32(), "sizes": r.vector(Reader.int32)}


@tl(0xBC7FC6CD, "FileLocation", "fileLocationToBeDeprecated_layer127")
def _fileloc(r: Reader) -> TL:
    return {"volume_id": r.int64(), "local_id": r.int32()}


@tl(0x53D69076, "FileLocation", "fileLocation_layer85")
def _fileloc_85(r: Reader) -> TL:
    return {"dc_id": r.int32(), "volume_id": r.int64(), "local_id": r.int32(), "secret": r.int64()}


@tl(0x091D11EB, "FileLocation", "fileLocation_layer97")
def _fileloc_97(r: Reader) -> TL:
    out = {"dc_id": r.int32(), "volume_id": r.int64(), "local_id": r.int32(), "secret": r.int64()}
    out["file_reference"] = len(r.raw())
    return out


@tl(0x7C596B46, "FileLocation", "fileLocationUnavailable_layer97")
def _fileloc_gone(r: Reader) -> TL:
    return {"volume_id": r.int64(), "local_id": r.int32(), "secret": r.int64()}


@tl(0x77BFB61B, "PhotoSize", "photoSize_layer127")
def _ps_old(r: Reader) -> TL:
    return {
        "type": r.string(),
        "location": r.obj("FileLocation"),
        "w": r.int32(),
        "h": r.int32(),
        "size": r.int32(),
    }


@tl(0xE9A734FA, "PhotoSize", "photoCachedSize_layer127")
def _ps_cached_old(r: Reader) -> TL:
    out = {"type": r.string(), "location": r.obj("FileLocation"), "w": r.int32(), "h": r.int32()}
    out["bytes"] = len(r.raw())
    return out


@tl(0x5AA86A51, "PhotoSize", "photoSizeProgressive_layer127")
def _ps_progressive_old(r: Reader) -> TL:
    out: TL = {"type": r.string(), "location": r.obj("FileLocation"), "w": r.int32(), "h": r.int32()}
    out["sizes"] = r.vector(Reader.int32)
    return out


@tl(0xDE33B094, "VideoSize", "videoSize")
def _vs(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"type": r.string(), "w": r.int32(), "h": r.int32(), "size": r.int32()}
    if flags & 1:
        out["video_start_ts"] = r.double()
    return out


def _sizes(r: Reader) -> list[TL]:
    return r.vector(lambda x: x.obj("PhotoSize"))


# --- photos ------------------------------------------------------------------------------------


@tl(0x2331B22D, "Photo", "photoEmpty")
def _photo_empty(r: Reader) -> TL:
    return {"id": r.int64()}


@tl(0xFB197A65, "Photo", "photo")
def _photo(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "file_reference": len(r.raw()), "date": r.int32()}
    out["sizes"] = _sizes(r)
    if flags & 2:
        out["video_sizes"] = r.vector(lambda x: x.obj("VideoSize"))
    out["dc_id"] = r.int32()
    return out


@tl(0xD07504A5, "Photo", "photo_layer115")
def _photo_115(r: Reader) -> TL:
    r.int32()  # flags: has_stickers only
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "file_reference": len(r.raw()), "date": r.int32()}
    out["sizes"] = _sizes(r)
    out["dc_id"] = r.int32()
    return out


@tl(0x9C477DD8, "Photo", "photo_layer97")
def _photo_97(r: Reader) -> TL:
    r.int32()
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "file_reference": len(r.raw()), "date": r.int32()}
    out["sizes"] = _sizes(r)
    return out


@tl(0x9288DD29, "Photo", "photo_layer85")
def _photo_85(r: Reader) -> TL:
    r.int32()
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "date": r.int32()}
    out["sizes"] = _sizes(r)
    return out


@tl(0xCDED42FE, "Photo", "photo_layer55")
def _photo_55(r: Reader) -> TL:
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "date": r.int32()}
    out["sizes"] = _sizes(r)
    return out


# --- documents ---------------------------------------------------------------------------------


@tl(0xFFB62B95, "InputStickerSet", "inputStickerSetEmpty")
def _iss_empty(r: Reader) -> TL:
    return {}


@tl(0x9DE7A269, "InputStickerSet", "inputStickerSetID")
def _iss_id(r: Reader) -> TL:
    return {"id": r.int64(), "access_hash": r.int64()}


@tl(0x861CC8A0, "InputStickerSet", "inputStickerSetShortName")
def _iss_short(r: Reader) -> TL:
    return {"short_name": r.string()}


@tl(0xE67F520E, "InputStickerSet", "inputStickerSetDice")
def _iss_dice(r: Reader) -> TL:
    return {"emoticon": r.string()}


register_empty("InputStickerSet", {0x028703C8: "inputStickerSetAnimatedEmoji"})


@tl(0xAED6DBB2, "MaskCoords", "maskCoords")
def _mask(r: Reader) -> TL:
    return {"n": r.int32(), "x": r.double(), "y": r.double(), "zoom": r.double()}


@tl(0x6C37C15C, "DocumentAttribute", "documentAttributeImageSize")
def _da_image(r: Reader) -> TL:
    return {"w": r.int32(), "h": r.int32()}


register_empty(
    "DocumentAttribute", {0x11B58939: "documentAttributeAnimated", 0x9801D2F7: "documentAttributeHasStickers"}
)


register_empty("DocumentAttribute", {0xFB0A5727: "documentAttributeSticker_layer24"})


@tl(0x994C9882, "DocumentAttribute", "documentAttributeSticker_layer28")
def _da_sticker_28(r: Reader) -> TL:
    return {"alt": r.string()}


@tl(0x3A556302, "DocumentAttribute", "documentAttributeSticker_layer55")
def _da_sticker_55(r: Reader) -> TL:
    return {"alt": r.string(), "stickerset": r.obj("InputStickerSet")}


@tl(0x5910CCCB, "DocumentAttribute", "documentAttributeVideo_layer65")
def _da_video_65(r: Reader) -> TL:
    return {"duration": r.int32(), "w": r.int32(), "h": r.int32()}


@tl(0x051448E5, "DocumentAttribute", "documentAttributeAudio_layer31")
def _da_audio_31(r: Reader) -> TL:
    return {"duration": r.int32()}


@tl(0xDED218E0, "DocumentAttribute", "documentAttributeAudio_layer45")
def _da_audio_45(r: Reader) -> TL:
    return {"duration": r.int32(), "title": r.string(), "performer": r.string()}


@tl(0x6319D612, "DocumentAttribute", "documentAttributeSticker")
def _da_sticker(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"alt": r.string(), "stickerset": r.obj("InputStickerSet")}
    if flags & 1:
        out["mask_coords"] = r.obj("MaskCoords")
    return out


@tl(0xFD149899, "DocumentAttribute", "documentAttributeCustomEmoji")
def _da_emoji(r: Reader) -> TL:
    r.int32()
    return {"alt": r.string(), "stickerset": r.obj("InputStickerSet")}


@tl(0x0EF02CE6, "DocumentAttribute", "documentAttributeVideo_layer159")
def _da_video_old(r: Reader) -> TL:
    flags = r.int32()
    return {"round": bool(flags & 1), "duration": r.int32(), "w": r.int32(), "h": r.int32()}


def _video(r: Reader, start_ts: bool, codec: bool) -> TL:
    flags = r.int32()
    out: TL = {"round": bool(flags & 1), "duration": r.double(), "w": r.int32(), "h": r.int32()}
    if flags & 4:
        out["preload_prefix_size"] = r.int32()
    if start_ts and flags & 16:
        out["video_start_ts"] = r.double()
    if codec and flags & 32:
        out["video_codec"] = r.string()
    return out


tl(0xD38FF1C2, "DocumentAttribute", "documentAttributeVideo_layer184")(lambda r: _video(r, False, False))
tl(0x17399FAD, "DocumentAttribute", "documentAttributeVideo_layer187")(lambda r: _video(r, True, False))
tl(0x43C57C48, "DocumentAttribute", "documentAttributeVideo")(lambda r: _video(r, True, True))


@tl(0x9852F9C6, "DocumentAttribute", "documentAttributeAudio")
def _da_audio(r: Reader) -> TL:
    flags = r.int32()
    out: TL = {"voice": bool(flags & 1024), "duration": r.int32()}  # flags.10: a voice note
    if flags & 1:
        out["title"] = r.string()
    if flags & 2:
        out["performer"] = r.string()
    if flags & 4:
        out["waveform"] = len(r.raw())
    return out


@tl(0x15590068, "DocumentAttribute", "documentAttributeFilename")
def _da_filename(r: Reader) -> TL:
    return {"file_name": r.string()}


@tl(0x36F8C871, "Document", "documentEmpty")
def _doc_empty(r: Reader) -> TL:
    return {"id": r.int64()}


def _document(r: Reader, size64: bool, video_thumbs: bool) -> TL:
    flags = r.int32()
    out: TL = {"id": r.int64(), "access_hash": r.int64(), "file_reference": len(r.raw()), "date": r.int32()}
    out["mime_type"] = r.string()
    out["size"] = r.int64() if size64 else r.int32()
    if flags & 1:
        out["thumbs"] = _sizes(r)
    if video_thumbs and flags & 2:
        out["video_thumbs"] = r.vector(lambda x: x.obj("VideoSize"))
    out["dc_id"] = r.int32()
    out["attributes"] = r.vector(lambda x: x.obj("DocumentAttribute"))
    return out


def _document_thumb(r: Reader, file_reference: bool, version: bool) -> TL:
    """Documents of layers 53-92: one thumb, no flags."""
    out: TL = {"id": r.int64(), "access_hash": r.int64()}
    if file_reference:
        out["file_reference"] = len(r.raw())
    out["date"], out["mime_type"], out["size"] = r.int32(), r.string(), r.int32()
    out["thumbs"] = [r.obj("PhotoSize")]
    out["dc_id"] = r.int32()
    if version:
        out["version"] = r.int32()
    out["attributes"] = r.vector(lambda x: x.obj("DocumentAttribute"))
    return out


tl(0x59534E4C, "Document", "document_layer92")(lambda r: _document_thumb(r, True, False))
tl(0x87232BC7, "Document", "document_layer85")(lambda r: _document_thumb(r, False, True))
tl(0xF9A39F4F, "Document", "document_layer53")(lambda r: _document_thumb(r, False, False))
tl(0x8FD4C4D8, "Document", "document")(lambda r: _document(r, True, True))
tl(0x1E87342B, "Document", "document_layer142")(lambda r: _document(r, False, True))
tl(0x9BA29CC1, "Document", "document_layer113")(lambda r: _document(r, False, False))


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

"""TL layouts of the files a message carries, as Telegram for Android stores them (``TLRPC.java``):
PhotoSize, FileLocation, VideoSize, Photo (layers 55-current), Document (layers 53-current),
DocumentAttribute, InputStickerSet, MaskCoords. Registered in the constructor table on import; the
message media that hold them are in ``tl_media``.
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

"""What WhatsApp writes in place of media in an "Export chat": attachment markers (the file is in the
export), "omitted" markers (exported without media), deleted and edited notes, per language.

Every pattern is matched against text whose invisible direction marks were already removed.
"""

from __future__ import annotations

import re

#: iOS, file in the export: ``<attached: 00000012-PHOTO-2024-03-01-10-00-00.jpg>`` (es ``adjunto``,
#: pt ``anexado``; de/fr/it as open-source parsers list them); may stand after a caption on the line.
IOS_ATTACHED = re.compile(
    r"<(?:attached|adjunto|anexado|anhang|pi[eè]ce jointe|allegato)\s?:\s*(?P<name>[^<>]+?)\s*>",
    re.IGNORECASE,
)
#: Android, file in the export: ``IMG-20240301-WA0001.jpg (file attached)``; the caption follows on
#: the next lines.
ANDROID_ATTACHED = re.compile(
    r"(?P<name>.+?)\s\((?:file attached|archivo adjunto|arquivo anexado|datei angeh[aä]ngt|fichier joint|"
    r"file allegato)\)",
    re.IGNORECASE,
)
#: Android, exported "without media".
ANDROID_OMITTED = re.compile(
    r"<(?:media omitted|multimedia omitido|medios omitidos|m[ií]dia oculta|arquivo de m[ií]dia oculto|"
    r"medien ausgeschlossen|m[ée]dias omis|media omessi|media weggelaten|"
    r"без медиафайлов|medya dahil edilmedi|"
    r"media tidak disertakan|تم استبعاد الوسائط)>",
    re.IGNORECASE,
)
#: iOS, exported "without media": the phrase names the kind.
IOS_OMITTED: dict[str, str] = {
    # en
    "image omitted": "image",
    "video omitted": "video",
    "audio omitted": "audio",
    "sticker omitted": "sticker",
    "gif omitted": "video",
    "document omitted": "document",
    "contact card omitted": "other",
    # es
    "imagen omitida": "image",
    "video omitido": "video",
    "audio omitido": "audio",
    "sticker omitido": "sticker",
    "gif omitido": "video",
    "documento omitido": "document",
    "tarjeta de contacto omitida": "other",
    # pt
    "imagem ocultada": "image",
    "imagem omitida": "image",
    "vídeo ocultado": "video",
    "vídeo omitido": "video",
    "áudio ocultado": "audio",
    "áudio omitido": "audio",
    "figurinha omitida": "sticker",
    "cartão do contato omitido": "other",
}
#: Android writes ``null`` for media it could not export (typically view-once).
ANDROID_NULL = "null"

DELETED = re.compile(
    r"(?:this message was deleted|you deleted this message|se elimin[oó] este mensaje|"
    r"este mensaje fue eliminado|eliminaste este mensaje|mensagem apagada|"
    r"voc[eê] apagou esta mensagem|esta mensagem foi apagada)\.?",
    re.IGNORECASE,
)
EDITED_SUFFIX = re.compile(
    r"\s*<(?:this message was edited|se edit[oó] este mensaje\.?|mensagem editada)>\s*$", re.IGNORECASE
)

_KIND_BY_PREFIX = {
    "IMG": "image",
    "PHOTO": "image",
    "VID": "video",
    "VIDEO": "video",
    "GIF": "video",
    "AUD": "audio",
    "PTT": "audio",
    "AUDIO": "audio",
    "STK": "sticker",
    "STICKER": "sticker",
    "DOC": "document",
}
_KIND_BY_EXT = {
    **dict.fromkeys(("jpg", "jpeg", "png", "heic", "gif", "bmp"), "image"),
    **dict.fromkeys(("mp4", "mov", "3gp", "mkv", "avi", "webm"), "video"),
    **dict.fromkeys(("opus", "ogg", "m4a", "aac", "mp3", "amr", "wav"), "audio"),
    "webp": "sticker",
    **dict.fromkeys(("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "zip", "apk"), "document"),
}


def media_kind(file_name: str) -> str:
    """The message kind an attachment's name implies: WhatsApp's own prefixes first (Android
    ``IMG-``/``VID-``/``PTT-``..., iOS ``00000012-PHOTO-``...), then the extension."""
    m = re.match(r"(?:\d+-)?([A-Z]+)-", file_name)
    if m and m.group(1) in _KIND_BY_PREFIX:
        return _KIND_BY_PREFIX[m.group(1)]
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return _KIND_BY_EXT.get(ext, "document" if ext else "other")

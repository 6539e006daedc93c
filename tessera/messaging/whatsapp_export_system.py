"""WhatsApp's own notices in an "Export chat" (encryption banner, group created, member added, left,
renamed, ...) in the languages investigators meet most: English, Spanish, Portuguese, French, German,
Italian, Dutch, Arabic, Vietnamese, Russian, Turkish and Indonesian.

The wording of a notice changes between app versions, so each pattern keys on the few words every
version shares and leaves the rest loose. Every pattern is matched (``fullmatch``, case-insensitive)
against text whose invisible direction marks were already removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: What ``raw["actor"]`` says when the notice's actor is the device owner ("You added ...").
YOU = "You"
_Q = "[\"'\u201c\u201e\u00ab\u2018\u300c]"
_QE = "[\"'\u201d\u201c\u00bb\u2019\u300d]"
# An actor never contains ": ", so "Name: some text ... left" is never read as a notice.
_A = r"(?P<actor>(?:(?!: ).)+?)"
_T = r"(?P<targets>.+)"
# French guillemets stand apart from the title (« Grupo »); WhatsApp trims titles, so the spaces are
# typography, not part of the name.
_TITLE = rf"{_Q}\s?(?P<title>.*?)\s?{_QE}"
_OLD = rf"{_Q}\s?(?P<old>.*?)\s?{_QE}"
_NL_RENAME = (
    rf"(?:het onderwerp|de groepsnaam) (?:gewijzigd )?(?:van {_OLD} )?(?:gewijzigd )?(?:naar|in) {_TITLE}"
)
CONJUNCTIONS = {
    "en": "and",
    "es": "y",
    "pt": "e",
    "fr": "et",
    "de": "und",
    "it": "e",
    "nl": "en",
    "ar": "و",
    "vi": "và",
    "ru": "и",
    "tr": "ve",
    "id": "dan",
}
#: How notices name the device owner as the actor ("Tú cambiaste ...", "Vous avez créé ...").
OWNER_ACTORS = frozenset(
    {"you", "tú", "tu", "você", "voce", "vous", "du", "jij", "je", "أنت", "bạn", "вы", "siz", "anda", "kamu"}
)
#: How notices name the device owner as a target ("X added you", "X te añadió", "X hat dich ...").
OWNER_TARGETS = frozenset(
    {
        "you",
        "te",
        "você",
        "voce",
        "vous",
        "dich",
        "ti",
        "jou",
        "je",
        "bạn",
        "вас",
        "sizi",
        "anda",
        "kamu",
        "أنت",
    }
)


@dataclass(frozen=True, slots=True)
class SystemPattern:
    regex: re.Pattern[str]
    action: str | None
    locale: str
    by_you: bool = False  # the actor is the device owner, named by the verb form alone
    you_target: bool = False  # the target is the device owner ("You were added", "Te añadieron")


def _p(
    src: str, action: str | None, locale: str, by_you: bool = False, you_target: bool = False
) -> tuple[str, str | None, str, bool, bool]:
    return src, action, locale, by_you, you_target


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[SystemPattern, ...], tuple[SystemPattern, ...]]:
    """(encryption banners, every system pattern), compiled on first use: the ~200 expressions cost
    ~25 ms, which every command paid at start-up whether or not it met a chat export."""

    def compile_all(specs: tuple[tuple[str, str | None, str, bool, bool], ...]) -> tuple[SystemPattern, ...]:
        return tuple(
            SystemPattern(re.compile(src, re.IGNORECASE | re.DOTALL), action, locale, by_you, you_target)
            for src, action, locale, by_you, you_target in specs
        )

    encryption = compile_all(_ENCRYPTION_SPECS)
    return encryption, encryption + compile_all(_EVENT_SPECS)


# The end-to-end encryption banner: a "messages" word first, the language's "end-to-end" phrase after.
_ENCRYPTION_SPECS = (
    _p(r"(?:your )?messages\b.*\bend-to-end encrypt.*", "encrypted", "en"),
    _p(r"messages (?:to|you send to) this (?:group|chat).*\bend-to-end encryption\b.*", "encrypted", "en"),
    _p(r"(?:los )?mensajes\b.*\b(?:cifrad[oa]s?|cifrado) de extremo a extremo\b.*", "encrypted", "es"),
    _p(r"(?:as )?mensagens\b.*\bcriptografi\w* de ponta[ -]a[ -]ponta\b.*", "encrypted", "pt"),
    _p(r"(?:les )?messages\b.*\bchiffr\w* de bout en bout\b.*", "encrypted", "fr"),
    _p(r"(?:die )?nachrichten\b.*\bende-zu-ende-verschlüssel.*", "encrypted", "de"),
    _p(r"(?:i )?messaggi\b.*\bcrittografat?\w* end-to-end\b.*", "encrypted", "it"),
    _p(r"berichten\b.*\bend-to-end[- ]?versleutel.*", "encrypted", "nl"),
    _p(r"(?:ال)?رسائل.*(?:مشفرة|التشفير|مُشفَّرة).*", "encrypted", "ar"),
    _p(r"tin nhắn\b.*\bmã h(?:óa|oá|oa) đầu cuối\b.*", "encrypted", "vi"),
    _p(r"сообщения\b.*\bсквозн\w* шифрован.*", "encrypted", "ru"),
    _p(r"mesajlar\b.*\buçtan uca şifrel.*", "encrypted", "tr"),
    _p(r"pesan\b.*\b(?:terenkripsi|dienkripsi|enkripsi)\b.*end-to-end\b.*", "encrypted", "id"),
)

# "You ..." forms come before the "{actor} ..." forms, which would also match them.
_EVENT_SPECS = (
    # creation
    _p(rf"you created (?:group {_TITLE}|this group)", "created", "en", True),
    _p(rf"{_A} created (?:group {_TITLE}|this group)", "created", "en"),
    _p(rf"(?:tú )?creaste (?:el grupo {_TITLE}|este grupo)", "created", "es", True),
    _p(rf"{_A} creó (?:el grupo {_TITLE}|este grupo)", "created", "es"),
    _p(rf"você criou (?:o grupo {_TITLE}|este grupo)", "created", "pt", True),
    _p(rf"{_A} criou (?:o grupo {_TITLE}|este grupo)", "created", "pt"),
    _p(rf"vous avez créé (?:le groupe {_TITLE}|ce groupe)", "created", "fr", True),
    _p(rf"{_A} a créé (?:le groupe {_TITLE}|ce groupe)", "created", "fr"),
    _p(rf"du hast (?:die gruppe {_TITLE}|diese gruppe) erstellt", "created", "de", True),
    _p(rf"{_A} hat (?:die gruppe {_TITLE}|diese gruppe) erstellt", "created", "de"),
    _p(rf"hai creato (?:il gruppo {_TITLE}|questo gruppo)", "created", "it", True),
    _p(rf"{_A} ha creato (?:il gruppo {_TITLE}|questo gruppo)", "created", "it"),
    _p(rf"(?:je|jij) hebt (?:groep {_TITLE}|deze groep) aangemaakt", "created", "nl", True),
    _p(rf"{_A} heeft (?:groep {_TITLE}|deze groep) aangemaakt", "created", "nl"),
    _p(rf"(?:أنت )?أنشأت (?:المجموعة|مجموعة) {_TITLE}", "created", "ar", True),
    _p(rf"{_A} (?:أنشأ|أنشأت) (?:المجموعة|مجموعة) {_TITLE}", "created", "ar"),
    _p(rf"bạn đã tạo nhóm {_TITLE}", "created", "vi", True),
    _p(rf"{_A} đã tạo nhóm {_TITLE}", "created", "vi"),
    _p(rf"вы создали группу {_TITLE}", "created", "ru", True),
    _p(rf"{_A} создал\S* группу {_TITLE}", "created", "ru"),
    _p(rf"{_TITLE} grubunu oluşturdunuz", "created", "tr", True),
    _p(rf"{_A},? {_TITLE} grubunu oluşturdu", "created", "tr"),
    _p(rf"anda membuat grup {_TITLE}", "created", "id", True),
    _p(rf"{_A} membuat grup {_TITLE}", "created", "id"),
    # joining by link
    _p(r"you joined using this group's invite link", "joined", "en", True),
    _p(rf"{_A} joined using (?:this group's|an) invite link", "joined", "en"),
    _p(r"te uniste (?:usando|mediante) el enlace de invitación de este grupo", "joined", "es", True),
    _p(rf"{_A} se unió (?:usando|mediante) el enlace de invitación de este grupo", "joined", "es"),
    _p(r"você entrou (?:usando|por meio d)o link de convite deste grupo", "joined", "pt", True),
    _p(rf"{_A} entrou (?:usando|por meio d)o link de convite deste grupo", "joined", "pt"),
    _p(rf"{_A} a rejoint (?:ce groupe )?(?:via|avec|en utilisant) le lien d'invitation.*", "joined", "fr"),
    _p(rf"{_A} (?:ist|bist) (?:der gruppe )?über (?:den|einen) einladungslink.* beigetreten", "joined", "de"),
    _p(rf"{_A} si è unit[oa] tramite il link d'invito.*", "joined", "it"),
    _p(
        rf"{_A} (?:is|ben) (?:lid geworden|toegevoegd|binnengekomen) via (?:de|een) uitnodigingslink.*",
        "joined",
        "nl",
    ),
    _p(rf"{_A} (?:انضم|انضمت) (?:باستخدام|عبر|من خلال) رابط الدعوة.*", "joined", "ar"),
    _p(rf"{_A} đã tham gia bằng liên kết mời.*", "joined", "vi"),
    _p(rf"{_A} присоедин\S* (?:к группе )?по ссылке-приглашению.*", "joined", "ru"),
    _p(rf"{_A},? (?:bu grubun )?davet bağlantısı(?:nı)? (?:kullanarak|ile) katıldı", "joined", "tr"),
    _p(rf"{_A} bergabung (?:menggunakan|melalui|dengan) tautan undangan.*", "joined", "id"),
    # the owner added by someone not named
    _p(r"you were added", "added", "en", you_target=True),
    _p(r"te (?:añadieron|agregaron)", "added", "es", you_target=True),
    _p(r"você foi adicionad[oa]", "added", "pt", you_target=True),
    _p(r"vous avez été ajouté(?:e)?", "added", "fr", you_target=True),
    _p(r"du wurdest hinzugefügt", "added", "de", you_target=True),
    _p(r"sei stat[oa] aggiunt[oa]", "added", "it", you_target=True),
    _p(r"je bent toegevoegd", "added", "nl", you_target=True),
    _p(r"bạn đã được thêm(?: vào)?", "added", "vi", you_target=True),
    _p(r"вас добавили", "added", "ru", you_target=True),
    _p(r"anda ditambahkan", "added", "id", you_target=True),
    # the owner added by a named actor, pronoun before the verb
    _p(rf"{_A} te (?:añadió|agregó)", "added", "es", you_target=True),
    _p(rf"{_A} vous a ajouté(?:e)?", "added", "fr", you_target=True),
    _p(rf"{_A} ti ha aggiunt[oa]", "added", "it", you_target=True),
    _p(rf"{_A} heeft je toegevoegd", "added", "nl", you_target=True),
    _p(rf"{_A} (?:أضافك|أضافتك)", "added", "ar", you_target=True),
    _p(rf"{_A} добавил\S* вас", "added", "ru", you_target=True),
    _p(rf"{_A},? sizi ekledi", "added", "tr", you_target=True),
    # additions
    _p(rf"you added {_T}", "added", "en", True),
    _p(rf"{_A} added {_T}", "added", "en"),
    _p(rf"(?:tú )?(?:añadiste|agregaste) a {_T}", "added", "es", True),
    _p(rf"{_A} (?:añadió|agregó) a {_T}", "added", "es"),
    _p(rf"você adicionou {_T}", "added", "pt", True),
    _p(rf"{_A} adicionou {_T}", "added", "pt"),
    _p(rf"vous avez ajouté {_T}", "added", "fr", True),
    _p(rf"{_A} a ajouté {_T}", "added", "fr"),
    _p(rf"du hast {_T} hinzugefügt", "added", "de", True),
    _p(rf"{_A} hat {_T} hinzugefügt", "added", "de"),
    _p(rf"hai aggiunto {_T}", "added", "it", True),
    _p(rf"{_A} ha aggiunto {_T}", "added", "it"),
    _p(rf"(?:je|jij) hebt {_T} toegevoegd", "added", "nl", True),
    _p(rf"{_A} heeft {_T} toegevoegd", "added", "nl"),
    _p(rf"(?:أنت )?أضفت {_T}", "added", "ar", True),
    _p(rf"{_A} (?:أضاف|أضافت) {_T}", "added", "ar"),
    _p(rf"bạn đã thêm {_T}", "added", "vi", True),
    _p(rf"{_A} đã thêm {_T}", "added", "vi"),
    _p(rf"вы добавили {_T}", "added", "ru", True),
    _p(rf"{_A} добавил\S* {_T}", "added", "ru"),
    _p(rf"{_T} kişisini eklediniz", "added", "tr", True),
    _p(rf"{_A},? {_T} kişisini ekledi", "added", "tr"),
    _p(rf"anda menambahkan {_T}", "added", "id", True),
    _p(rf"{_A} menambahkan {_T}", "added", "id"),
    # removals
    _p(rf"you removed {_T}", "removed", "en", True),
    _p(rf"{_A} removed {_T}", "removed", "en"),
    _p(rf"(?:tú )?eliminaste a {_T}", "removed", "es", True),
    _p(rf"{_A} eliminó a {_T}", "removed", "es"),
    _p(rf"você removeu {_T}", "removed", "pt", True),
    _p(rf"{_A} removeu {_T}", "removed", "pt"),
    _p(rf"vous avez retiré {_T}", "removed", "fr", True),
    _p(rf"{_A} a retiré {_T}", "removed", "fr"),
    _p(rf"du hast {_T} entfernt", "removed", "de", True),
    _p(rf"{_A} hat {_T} entfernt", "removed", "de"),
    _p(rf"hai rimosso {_T}", "removed", "it", True),
    _p(rf"{_A} ha rimosso {_T}", "removed", "it"),
    _p(rf"(?:je|jij) hebt {_T} verwijderd", "removed", "nl", True),
    _p(rf"{_A} heeft {_T} verwijderd", "removed", "nl"),
    _p(rf"(?:أنت )?أزلت {_T}", "removed", "ar", True),
    _p(rf"{_A} (?:أزال|أزالت) {_T}", "removed", "ar"),
    _p(rf"bạn đã xóa {_T}", "removed", "vi", True),
    _p(rf"{_A} đã xóa {_T}", "removed", "vi"),
    _p(rf"вы удалили {_T}", "removed", "ru", True),
    _p(rf"{_A} удалил\S* {_T}", "removed", "ru"),
    _p(rf"{_T} kişisini çıkardınız", "removed", "tr", True),
    _p(rf"{_A},? {_T} kişisini çıkardı", "removed", "tr"),
    _p(rf"anda mengeluarkan {_T}", "removed", "id", True),
    _p(rf"{_A} mengeluarkan {_T}", "removed", "id"),
    # leaving
    _p(r"you left", "left", "en", True),
    _p(rf"{_A} left", "left", "en"),
    _p(r"(?:tú )?saliste(?: del grupo)?", "left", "es", True),
    _p(rf"{_A} salió(?: del grupo)?", "left", "es"),
    _p(r"você saiu(?: do grupo)?", "left", "pt", True),
    _p(rf"{_A} saiu(?: do grupo)?", "left", "pt"),
    _p(r"vous êtes parti(?:e)?", "left", "fr", True),
    _p(rf"{_A} est parti(?:e)?", "left", "fr"),
    _p(r"du hast (?:die gruppe )?verlassen", "left", "de", True),
    _p(rf"{_A} hat (?:die gruppe )?verlassen", "left", "de"),
    _p(r"sei uscit[oa]", "left", "it", True),
    _p(rf"{_A} è uscit[oa]", "left", "it"),
    _p(r"(?:je|jij) hebt (?:de groep )?verlaten", "left", "nl", True),
    _p(rf"{_A} heeft (?:de groep )?verlaten", "left", "nl"),
    _p(r"(?:أنت )?غادرت", "left", "ar", True),
    _p(rf"{_A} (?:غادر|غادرت)", "left", "ar"),
    _p(r"bạn đã rời(?: khỏi)?(?: nhóm)?", "left", "vi", True),
    _p(rf"{_A} đã rời(?: khỏi)?(?: nhóm)?", "left", "vi"),
    _p(r"вы вышли(?: из группы)?", "left", "ru", True),
    _p(rf"{_A} вышл?\S*(?: из группы)?", "left", "ru"),
    _p(r"(?:gruptan )?ayrıldınız", "left", "tr", True),
    _p(rf"{_A} (?:gruptan )?ayrıldı", "left", "tr"),
    _p(r"anda keluar", "left", "id", True),
    _p(rf"{_A} keluar", "left", "id"),
    # renaming
    _p(rf"you changed the (?:subject|group name) (?:from {_OLD} )?to {_TITLE}", "renamed", "en", True),
    _p(rf"{_A} changed the (?:subject|group name) (?:from {_OLD} )?to {_TITLE}", "renamed", "en"),
    _p(
        rf"(?:tú )?cambiaste (?:el asunto|el nombre del grupo) (?:de {_OLD} )?a {_TITLE}",
        "renamed",
        "es",
        True,
    ),
    _p(rf"{_A} cambió (?:el asunto|el nombre del grupo) (?:de {_OLD} )?a {_TITLE}", "renamed", "es"),
    _p(rf"você (?:mudou|alterou) o nome(?: do grupo)? (?:de {_OLD} )?para {_TITLE}", "renamed", "pt", True),
    _p(rf"{_A} (?:mudou|alterou) o nome(?: do grupo)? (?:de {_OLD} )?para {_TITLE}", "renamed", "pt"),
    _p(
        rf"vous avez (?:modifié|changé) (?:le sujet|le nom du groupe) (?:de {_OLD} )?(?:en|à|pour) {_TITLE}",
        "renamed",
        "fr",
        True,
    ),
    _p(
        rf"{_A} a (?:modifié|changé) (?:le sujet|le nom du groupe) (?:de {_OLD} )?(?:en|à|pour) {_TITLE}",
        "renamed",
        "fr",
    ),
    _p(
        rf"du hast (?:den betreff|den gruppennamen) (?:von {_OLD} )?(?:zu|in) {_TITLE} geändert",
        "renamed",
        "de",
        True,
    ),
    _p(
        rf"{_A} hat (?:den betreff|den gruppennamen) (?:von {_OLD} )?(?:zu|in) {_TITLE} geändert",
        "renamed",
        "de",
    ),
    _p(
        rf"hai (?:cambiato|modificato) (?:l'oggetto|il nome del gruppo) (?:da {_OLD} )?(?:a|in) {_TITLE}",
        "renamed",
        "it",
        True,
    ),
    _p(
        rf"{_A} ha (?:cambiato|modificato) (?:l'oggetto|il nome del gruppo) (?:da {_OLD} )?(?:a|in) {_TITLE}",
        "renamed",
        "it",
    ),
    _p(
        rf"(?:je|jij) hebt {_NL_RENAME}(?: gewijzigd)?",
        "renamed",
        "nl",
        True,
    ),
    _p(
        rf"{_A} heeft {_NL_RENAME}(?: gewijzigd)?",
        "renamed",
        "nl",
    ),
    _p(rf"(?:أنت )?غيرت (?:اسم المجموعة|الموضوع) (?:من {_OLD} )?إلى {_TITLE}", "renamed", "ar", True),
    _p(rf"{_A} (?:غير|غيرت|غيّر|غيّرت) (?:اسم المجموعة|الموضوع) (?:من {_OLD} )?إلى {_TITLE}", "renamed", "ar"),
    _p(rf"bạn đã đổi (?:tên nhóm|chủ đề) (?:từ {_OLD} )?thành {_TITLE}", "renamed", "vi", True),
    _p(rf"{_A} đã đổi (?:tên nhóm|chủ đề) (?:từ {_OLD} )?thành {_TITLE}", "renamed", "vi"),
    _p(rf"вы изменили (?:тему|название группы) (?:с {_OLD} )?на {_TITLE}", "renamed", "ru", True),
    _p(rf"{_A} изменил\S* (?:тему|название группы) (?:с {_OLD} )?на {_TITLE}", "renamed", "ru"),
    _p(
        rf"{_A},? (?:grup )?(?:konusunu|adını) (?:{_OLD} (?:iken|yerine) )?{_TITLE} olarak değiştirdi",
        "renamed",
        "tr",
    ),
    _p(
        rf"anda mengubah (?:subjek|nama grup) (?:dari {_OLD} )?(?:ke|menjadi) {_TITLE}", "renamed", "id", True
    ),
    _p(rf"{_A} mengubah (?:subjek|nama grup) (?:dari {_OLD} )?(?:ke|menjadi) {_TITLE}", "renamed", "id"),
    # icon and description
    _p(rf"{_A} changed (?:this group's icon|the group icon)", "icon_changed", "en"),
    _p(rf"{_A} cambió (?:el ícono|la imagen|la foto) de(?:l| este) grupo", "icon_changed", "es"),
    _p(rf"{_A} (?:mudou|alterou) a imagem (?:deste|do) grupo", "icon_changed", "pt"),
    _p(rf"{_A} changed the group description", "description_changed", "en"),
    _p(rf"{_A} cambió la descripción del grupo", "description_changed", "es"),
    _p(rf"{_A} (?:mudou|alterou) a descrição do grupo", "description_changed", "pt"),
    # admins
    _p(r"you're now an admin", "promoted", "en", True),
    _p(rf"{_A} (?:is|are) now an admin", "promoted", "en"),
    _p(r"ahora eres admin(?:istrador)?(?: del grupo)?", "promoted", "es", True),
    _p(rf"{_A} ahora es admin(?:istrador)?(?: del grupo)?", "promoted", "es"),
    _p(r"agora você é admin(?:istrador)?(?: do grupo)?", "promoted", "pt", True),
    _p(rf"{_A} agora é admin(?:istrador)?(?: do grupo)?", "promoted", "pt"),
    # identity changes
    _p(rf"your security code with {_A} changed\b.*", "security_code_changed", "en"),
    _p(rf"{_A}'s security code changed\b.*", "security_code_changed", "en"),
    _p(
        rf"(?:tu código de seguridad con|el código de seguridad de) {_A} cambió\b.*",
        "security_code_changed",
        "es",
    ),
    _p(
        rf"(?:seu código de segurança com|o código de segurança de) {_A} mudou\b.*",
        "security_code_changed",
        "pt",
    ),
    _p(rf"{_A} changed their phone number\b.*", "number_changed", "en"),
    _p(rf"{_A} cambió su número de teléfono\b.*", "number_changed", "es"),
    _p(rf"{_A} mudou (?:seu|o) número de telefone\b.*", "number_changed", "pt"),
)

#: Actions that only happen in groups: one of them makes a chat a group.
GROUP_ACTIONS = frozenset(
    {
        "created",
        "joined",
        "added",
        "removed",
        "left",
        "renamed",
        "icon_changed",
        "description_changed",
        "promoted",
    }
)


def match_system(text: str) -> tuple[SystemPattern, re.Match[str]] | None:
    for pattern in _compiled()[1]:
        m = pattern.regex.fullmatch(text)
        if m:
            return pattern, m
    return None


def match_encryption(text: str) -> SystemPattern | None:
    """The encryption banner when WhatsApp attributes it to the chat's name (``Group: Messages and
    calls are end-to-end encrypted. ... not even WhatsApp ...``). Every language's banner names
    WhatsApp, which a person typing about encryption rarely writes in the same sentence."""
    if "whatsapp" not in text.lower():
        return None
    return next((p for p in _compiled()[0] if p.regex.fullmatch(text)), None)


def split_targets(targets: str, locale: str) -> list[str]:
    """``A, B and C`` -> [A, B, C] (``y`` in Spanish, ``e`` in Portuguese, ``و`` in Arabic ...)."""
    parts = [p.strip() for p in re.split(r"[,،]\s", targets)]
    last = (
        re.split(rf"\s+{CONJUNCTIONS[locale]}\s*(?=\S)", parts[-1])
        if locale == "ar"
        else re.split(rf"\s+{CONJUNCTIONS[locale]}\s+", parts[-1])
    )
    return [p for p in parts[:-1] + last if p]

"""Vietnamese text typed with the legacy font encodings of old Word files, back to Unicode.

Before Unicode, Vietnamese documents were typed in fonts that put the accented letters at the
places of Latin-1 characters: TCVN3 (ABC, fonts «.VnTime») and VNI («VNI-Times»). Opened today,
«Kế hoạch» reads «KÕ ho¹ch» (TCVN3) or «Keá hoaïch» (VNI). A line is converted only when it
shows that encoding's marks (characters no Unicode Vietnamese word uses); the caller says so.

>>> repair("Tæ chøc Héi kháe Phï Đæng chµo mõng ngµy Nhµ gi¸o ViÖt Nam 20/11.")
('Tổ chức Hội khỏe Phù Đổng chào mừng ngày Nhà giáo Việt Nam 20/11.', 'TCVN3')
>>> repair("Keá hoaïch toå chöùc ngaøy hoäi")
('Kế hoạch tổ chức ngày hội', 'VNI')
>>> repair("Kế hoạch năm 2025")
('Kế hoạch năm 2025', None)
"""

from __future__ import annotations

import re
import unicodedata

_TCVN3 = dict(
    zip(
        "¸µ¶·¹¨¾»¼½Æ©ÊÇÈÉË®ÐÌÎÏÑªÕÒÓÔÖÝ×ØÜÞãßáâä«èåæçé¬íêëìîóïñòô\xadøõö÷ùýúûüþ¡¢§£¤¥¦",
        "áàảãạăắằẳẵặâấầẩẫậđéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵĂÂĐÊÔƠƯ",
        strict=True,
    )
)
#: Characters no Unicode Vietnamese word uses, and TCVN3 does (not «Ô», «Ê»…: «CÔNG» is Unicode).
_TCVN3_ONLY = set("¸µ¶·¹¨¾»¼½Æ©ÇË®ÐÎÏÑªÖ×ØÜÞßåæç¬ëîïñö÷ø\xadþ§")
_MODERN = re.compile("[\u1ea0-\u1ef9ơưăđƠƯĂĐ]")
_HINT = re.compile("[" + re.escape("".join(_TCVN3_ONLY)) + "øûïåäæëüñÑ]")
#: VNI: a base letter followed by its marks (tone last), «ñ»/«Ñ» for đ/Đ, «ô»/«ö» for ơ/ư.
_VNI_MARKS = {
    "ù": "\u0301",
    "ø": "\u0300",
    "û": "\u0309",
    "õ": "\u0303",
    "ï": "\u0323",
    "â": "\u0302",
    "ê": "\u0306",
    "é": "\u0306\u0301",
    "è": "\u0306\u0300",
    "ú": "\u0306\u0309",
    "ü": "\u0306\u0303",
    "ë": "\u0306\u0323",
    "á": "\u0302\u0301",
    "à": "\u0302\u0300",
    "å": "\u0302\u0309",
    "ã": "\u0302\u0303",
    "ä": "\u0302\u0323",
}
_VNI_UPPER = {k.upper(): v for k, v in _VNI_MARKS.items()}
_VNI_I = {
    "í": "í",
    "ì": "ì",
    "æ": "ỉ",
    "ó": "ĩ",
    "ò": "ị",
    "Í": "Í",
    "Ì": "Ì",
    "Æ": "Ỉ",
    "Ó": "Ĩ",
    "Ò": "Ị",
}
_VNI_SEQ = re.compile(r"([aeouyAEOUY])([ùøûõïâêéèúüëáàåãäÙØÛÕÏÂÊÉÈÚÜËÁÀÅÃÄ])")
_VNI_ONLY = re.compile(r"[aeouyôöAEOUYÔÖ][øûïåäæëüØÛÏÅÄÆËÜ]|[aeo][âê]|[tnhcg]ö|[ñÑ][aeiouôAEIOUÔ]")


def repair(line: str, known: str | None = None) -> tuple[str, str | None]:
    """The line in Unicode, and the legacy encoding it was in (None when it was Unicode).
    `known`: the document's encoding, when its other lines showed it (one mark is then enough)."""
    if known == "TCVN3" and any(c in _TCVN3 for c in line) and not _MODERN.search(line):
        return "".join(_TCVN3.get(c, c) for c in line), "TCVN3"  # «NéI DUNG» in a TCVN3 document
    if _HINT.search(line) is None:
        return line, None
    # TCVN3's letters stand where the vowel is, VNI's marks after it: «chøc» / «chöùc» (chức)
    tcvn = sum(
        c in _TCVN3_ONLY and (k == 0 or line[k - 1] not in "aeouyAEOUY") for k, c in enumerate(line)
    )
    vni = len(_VNI_ONLY.findall(line))
    modern = sum("\u1ea0" <= c <= "\u1ef9" or c in "ơưăĐđƠƯĂ" for c in line)
    least = {None: 2, "VNI": 1, "TCVN3": 1}
    if vni >= least.get(known, 2) and vni >= tcvn and modern == 0 and known != "TCVN3":
        return _vni(line), "VNI"
    if tcvn >= least.get(known, 2) and tcvn > modern and known != "VNI":
        return "".join(_TCVN3.get(c, c) for c in line), "TCVN3"
    return line, None


def _vni(line: str) -> str:
    s = line.replace("ô", "ơ").replace("Ô", "Ơ").replace("ö", "ư").replace("Ö", "Ư")
    s = s.replace("ñ", "đ").replace("Ñ", "Đ")
    s = "".join(_VNI_I.get(c, c) for c in s)
    # «ơ»/«ư» then a tone mark: «ôù» (ớ) was turned into «ơù» above
    s = re.sub(
        r"([ơưƠƯ])([ùøûõïÙØÛÕÏ])",
        lambda m: m.group(1) + (_VNI_MARKS.get(m.group(2)) or _VNI_UPPER[m.group(2)]),
        s,
    )
    s = _VNI_SEQ.sub(
        lambda m: m.group(1) + (_VNI_MARKS.get(m.group(2)) or _VNI_UPPER[m.group(2)]), s
    )
    return unicodedata.normalize("NFC", s)

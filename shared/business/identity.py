"""Identity rules (business.md §B3): name similarity, mail domains, suggestion keys and apply input.

Serves ``POST /identity/suggestions/apply`` and the ``GET /identity/suggestions`` / ``GET
/identity/links`` status filters, and is used by the ``identity_suggestions`` job
(``jobs/business/identity_suggestions.py``); tables ``identity_link_suggestions`` and
``identity_links``.

:func:`similarity` is the spec's ``sim(a, b)`` exactly for two names written in the same script.
Two decisions go beyond the spec:

* **Cyrillic ↔ Latin** (only ever *raises* a score). When one name contains Cyrillic letters and
  the other Latin letters, both are also compared after transliteration (an explicit
  Russian/Ukrainian/Belarusian table close to ICAO 9303) and a spelling skeleton that folds the
  usual variants: ``y``/``j`` → ``i``, ``x`` → ``ks``, ``kh`` → ``h``, ``yo`` after a letter →
  ``e`` (ё), ``shch``/``sch`` → ``sh``, ``ph`` → ``f``, ``w`` → ``v``, ``ck`` → ``k``, doubled
  letters collapsed, word-initial ``ie``/``ye`` → ``e``, accents dropped. So ``Дмитрий Иванов`` ~
  ``Dmitry Ivanov``, ``Юлия`` ~ ``Yulia``, ``Фёдор`` ~ ``Fyodor``. Transliteration is lossy, so a
  cross-script score is capped at **0.95** (never a perfect 1.0); the result is
  ``max(spec score, capped cross-script score)``.
* **Generic mail domains** (only ever *removes* a match). A shared mailbox provider
  (``gmail.com``, ``mail.ru``, ``yandex.ru``, ``outlook.com``, … and the ``yahoo.co.uk``-style
  country variants of the big providers) never counts as identity evidence: :func:`domains_match`
  is false for them even when both sides name the same domain. Domains are compared after
  trimming, lower-casing and dropping a scheme, path, port, leading ``www.`` and trailing dot.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from shared.business.errors import InvalidInput
from shared.business.params import parse_enum, parse_id_list

__all__ = [
    "GENERIC_MAIL_DOMAINS",
    "LINK_STATUSES",
    "SUGGESTION_STATUSES",
    "domains_match",
    "email_domain",
    "is_generic_mail_domain",
    "normalize_domain",
    "parse_link_status_filter",
    "parse_suggestion_status_filter",
    "similarity",
    "spec_similarity",
    "suggestion_dedupe_key",
    "transliterate",
    "validate_suggestion_ids",
    "words",
]

SUGGESTION_STATUSES: tuple[str, ...] = ("proposed", "applied", "dismissed")
LINK_STATUSES: tuple[str, ...] = ("active", "inactive")
MAX_APPLY_IDS = 200
CROSS_SCRIPT_CAP = 0.95

_WORD = re.compile(r"[^\W_]+")  # a run of Unicode letters or digits

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Ukrainian / Belarusian
    "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
}
# Applied in order to both (Latin) sides of a cross-script comparison.
_SKELETON_RULES: tuple[tuple[str, str], ...] = (
    ("shch", "sh"), ("sch", "sh"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("tz", "ts"),
    ("x", "ks"), ("w", "v"), ("y", "i"), ("j", "i"),
)
_DOUBLE = re.compile(r"([a-z])\1+")

GENERIC_MAIL_DOMAINS: frozenset[str] = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "rocketmail.com", "hotmail.com",
    "outlook.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "aim.com",
    "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "gmx.com", "gmx.net", "gmx.de",
    "web.de", "t-online.de", "mail.com", "email.com", "zoho.com", "zohomail.com", "fastmail.com",
    "fastmail.fm", "hey.com", "tutanota.com", "tutanota.de", "tuta.io", "yandex.ru", "yandex.com",
    "yandex.by", "yandex.kz", "yandex.ua", "ya.ru", "mail.ru", "inbox.ru", "list.ru", "bk.ru",
    "internet.ru", "rambler.ru", "ro.ru", "ukr.net", "i.ua", "meta.ua", "qq.com", "163.com",
    "126.com", "sina.com", "naver.com", "daum.net", "seznam.cz", "wp.pl", "o2.pl", "onet.pl",
    "interia.pl", "libero.it", "orange.fr", "free.fr", "laposte.net", "btinternet.com",
    "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
})
# Providers whose country variants (hotmail.fr, yahoo.co.uk, outlook.com.br …) are generic too.
_GENERIC_PROVIDER_LABELS = frozenset({"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn",
                                      "aol", "gmx", "yandex", "icloud", "protonmail"})


# --- similarity ---------------------------------------------------------------------------------
def words(text: str) -> set[str]:
    """The word set of a (case-folded) text: runs of Unicode letters or digits, any script."""
    return set(_WORD.findall(text))


def spec_similarity(a: str | None, b: str | None) -> float:
    """``sim(a, b)`` of §B3.1, verbatim: casefold+trim; empty → 0; equal → 1; containment → 0.86;
    else ``|A ∩ B| / max(|A|, |B|)`` over word sets (0 if either set is empty)."""
    left, right = (a or "").casefold().strip(), (b or "").casefold().strip()
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    if left in right or right in left:
        return 0.86
    left_words, right_words = words(left), words(right)
    if not left_words or not right_words:
        return 0.0
    return len(left_words & right_words) / max(len(left_words), len(right_words))


def _has_cyrillic(text: str) -> bool:
    return any("CYRILLIC" in unicodedata.name(ch, "") for ch in text if ch.isalpha())


def _has_latin(text: str) -> bool:
    return any("LATIN" in unicodedata.name(ch, "") for ch in text if ch.isalpha())


def transliterate(text: str) -> str:
    """Cyrillic letters → Latin (lower-case, table in this module); other characters unchanged."""
    return "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in text.casefold())


def _skeleton(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", transliterate(text))
    result = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    result = re.sub(r"(?<=[a-z])yo", "e", result)  # ё after a consonant: Fyodor / Pyotr / Artyom
    for old, new in _SKELETON_RULES:
        result = result.replace(old, new)
    result = _DOUBLE.sub(r"\1", result)
    return re.sub(r"(?<![^\W_])ie", "e", result)  # word-initial ie (ye/je/е) → e


def similarity(a: str | None, b: str | None) -> float:
    """Name similarity in [0, 1]: :func:`spec_similarity`, raised for Cyrillic ↔ Latin spellings of
    the same name (see the module docstring; cross-script scores are capped at 0.95)."""
    score = spec_similarity(a, b)
    left, right = a or "", b or ""
    cross_script = (_has_cyrillic(left) and _has_latin(right)) or (_has_latin(left) and _has_cyrillic(right))
    if cross_script and score < CROSS_SCRIPT_CAP:
        score = max(score, min(CROSS_SCRIPT_CAP, spec_similarity(_skeleton(left), _skeleton(right))))
    return score


# --- domains ------------------------------------------------------------------------------------
def normalize_domain(value: str | None) -> str | None:
    """``Https://WWW.Acme.com/about`` → ``acme.com``; None for blank input."""
    if not value:
        return None
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].strip().rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


def email_domain(email: str | None) -> str | None:
    """The normalised domain after the last ``@`` of an email address, or None."""
    if not email or "@" not in email:
        return None
    return normalize_domain(email.strip().rsplit("@", 1)[1].strip(" <>"))


def is_generic_mail_domain(domain: str | None) -> bool:
    """True for shared mailbox providers, which never identify an organisation."""
    normalized = normalize_domain(domain)
    if normalized is None:
        return False
    if normalized in GENERIC_MAIL_DOMAINS:
        return True
    labels = normalized.split(".")
    if len(labels) == 2:
        return labels[0] in _GENERIC_PROVIDER_LABELS
    if len(labels) == 3 and labels[1] in {"co", "com"} and len(labels[2]) == 2:
        return labels[0] in _GENERIC_PROVIDER_LABELS
    return False


def domains_match(email: str | None, account_domain: str | None) -> bool:
    """§B3.2 ``domain_match``: the email's domain equals the account's domain, and is not generic."""
    contact = email_domain(email)
    account = normalize_domain(account_domain)
    return contact is not None and contact == account and not is_generic_mail_domain(contact)


# --- keys and route input -----------------------------------------------------------------------
def suggestion_dedupe_key(left_type: str, left_id: object, right_type: str, right_id: object) -> str:
    """``sha1_hex(f"{left_type}:{left_id}|{right_type}:{right_id}")``."""
    return hashlib.sha1(f"{left_type}:{left_id}|{right_type}:{right_id}".encode()).hexdigest()


def validate_suggestion_ids(value: object) -> list[str]:
    """``POST /identity/suggestions/apply`` ``suggestion_ids``: an array of UUIDs (de-duplicated,
    first 200); anything else → 400 ``invalid_suggestion_ids``. ``[]`` is valid (nothing to apply);
    absent or ``null`` is a 400 (a required field)."""
    if value is None:
        raise InvalidInput("invalid_suggestion_ids", "suggestion_ids must be an array of ids")
    return parse_id_list(value, max_items=MAX_APPLY_IDS, uuids=True, error_code="invalid_suggestion_ids")


def _status_filter(value: object, allowed: Iterable[str], default: str) -> str | None:
    status = parse_enum(value, (*allowed, "all"), error_code="invalid_status", default=default)
    return None if status == "all" else status


def parse_suggestion_status_filter(value: object) -> str | None:
    """``GET /identity/suggestions?status=``: default ``proposed``; ``all`` → None (no filter)."""
    return _status_filter(value, SUGGESTION_STATUSES, "proposed")


def parse_link_status_filter(value: object) -> str | None:
    """``GET /identity/links?status=``: default ``active``; ``all`` → None (no filter)."""
    return _status_filter(value, LINK_STATUSES, "active")

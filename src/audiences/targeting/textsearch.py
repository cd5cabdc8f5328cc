"""Name search shared by locations, interests and languages.

Names are folded (case, accents and punctuation ignored) and indexed once. A query finds
entries by exact name, by prefix of a name, and (from three characters on) by prefix of
any later word or by substring. Each hit carries a match tier so callers rank exact and
prefix matches first and break ties with their own importance (population, depth...).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import chain

# Combining marks of the Latin, Greek and Cyrillic blocks: what NFKD splits off accented
# letters. Marks of other scripts (Devanagari vowel signs...) carry meaning and are kept.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Letters NFKD does not decompose but that people type without their stroke or ligature.
_LETTERS = {"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
_LETTER = re.compile("|".join(_LETTERS))
_WORDS = re.compile(r"[^\W_]+")
# All-capital short aliases are abbreviations and airport codes (NYC, LAX, MUC): they match
# only exactly, and rank after names that start with the query.
_ABBREVIATION = re.compile(r"[A-Z0-9]{2,5}")
SUBSTRING_MIN_CHARS = 3
_NAME_BITS = 10
_MAX_NAMES = 1 << _NAME_BITS  # names per entry (GeoNames lists at most a few hundred)


def fold(text: str) -> str:
    """`text` compared case-, accent- and punctuation-insensitively: `Saint-Étienne` → `saint etienne`."""
    if text.isascii():
        return " ".join(_WORDS.findall(text.lower()))
    plain = _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()
    plain = _LETTER.sub(lambda m: _LETTERS[m.group()], plain)
    return " ".join(_WORDS.findall(plain))


class Tier(IntEnum):
    """How a name matched the query; lower ranks first."""

    CODE = 0  # the entry's id or code, exactly
    NAME = 1  # the entry's own name, exactly
    ALIAS = 2  # an alternate name, exactly
    NAME_PREFIX = 3
    ABBREVIATION = 4  # an all-capital short alias, exactly
    ALIAS_PREFIX = 5
    WORD_PREFIX = 6  # a later word of a name starts with the query: `york` in `New York`
    NAME_SUBSTRING = 7
    ALIAS_SUBSTRING = 8


# What a key is: the entry's name, an alias, an abbreviation, or a code.
_NAME, _ALIAS, _ABBREV, _CODE = range(4)
_EXACT = (Tier.NAME, Tier.ALIAS, Tier.ABBREVIATION, Tier.CODE)
_PRIORITY = (1, 2, 3, 0)  # which kind a name keeps when it is listed twice
_PREFIX = (Tier.NAME_PREFIX, Tier.ALIAS_PREFIX, None, Tier.NAME_PREFIX)


@dataclass(frozen=True, slots=True)
class Names:
    """What one entry can be found by. `name` is shown; `aliases` are other names (other
    languages, spellings); `codes` are identifiers matched exactly or by prefix."""

    name: str
    aliases: Sequence[str] = ()
    codes: Sequence[str] = ()

    def nth(self, number: int) -> str:
        if number == 0:
            return self.name
        if number <= len(self.aliases):
            return self.aliases[number - 1]
        return self.codes[number - 1 - len(self.aliases)]


@dataclass(frozen=True, slots=True)
class Hit:
    tier: Tier
    matched: str  # the name (as given, not folded) that matched best


def _pack(entry: int, number: int, kind: int) -> int:
    return (((entry << _NAME_BITS) | number) << 2) | kind


def _unpack(ref: int) -> tuple[int, int, int]:
    return ref >> (_NAME_BITS + 2), (ref >> 2) & (_MAX_NAMES - 1), ref & 3


class NameIndex:
    """Sorted folded names for exact/prefix lookup, plus one joined text for substring search.
    References are packed into machine-int arrays: a GeoNames index has ~600k names."""

    def __init__(self, entries: Sequence[Names]) -> None:
        self._entries = list(entries)
        keys: list[str] = []
        refs = array("q")
        texts: list[str] = []
        self._text_refs = array("q")
        for entry_no, names in enumerate(self._entries):
            first_code = 1 + len(names.aliases)
            if first_code + len(names.codes) > _MAX_NAMES:
                raise ValueError(f"{names.name!r} has more than {_MAX_NAMES} names")
            seen: dict[str, tuple[int, int]] = {}  # folded name -> its position in refs, text refs
            for number, raw in enumerate(chain((names.name,), names.aliases, names.codes)):
                folded = fold(raw)
                if not folded:
                    continue
                if number == 0:
                    kind = _NAME
                elif number >= first_code:
                    kind = _CODE
                elif len(raw) <= 5 and raw.isupper() and _ABBREVIATION.fullmatch(raw):
                    kind = _ABBREV
                else:
                    kind = _ALIAS
                if folded in seen:
                    # Names spelt alike count once, as the strongest kind; of two aliases, the
                    # one with its accents is shown: München, not Munchen.
                    at, text_at = seen[folded]
                    _, old_number, old_kind = _unpack(refs[at])
                    stronger = _PRIORITY[kind] < _PRIORITY[old_kind]
                    accented = (
                        kind == old_kind == _ALIAS and names.nth(old_number).isascii() and not raw.isascii()
                    )
                    if stronger or accented:
                        refs[at] = _pack(entry_no, number, kind)
                        if text_at >= 0 and kind <= _ALIAS:
                            self._text_refs[text_at] = refs[at]
                    continue
                ref = _pack(entry_no, number, kind)
                seen[folded] = (len(refs), len(self._text_refs) if kind <= _ALIAS else -1)
                keys.append(folded)
                refs.append(ref)
                if kind <= _ALIAS:
                    texts.append(folded)
                    self._text_refs.append(ref)
        # Sorting positions by key is cheaper than sorting (key, ref) pairs.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self._keys = [keys[i] for i in order]
        self._key_refs = array("q", [refs[i] for i in order])
        # One newline-joined text lets `str.find` scan every name at C speed.
        self._text_starts = array("q")
        position = 0
        for text in texts:
            self._text_starts.append(position)
            position += len(text) + 1
        self._text = "\n".join(texts)

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str) -> dict[int, Hit]:
        """Entries matching `query` (folded here), each with its best tier."""
        folded = fold(query)
        if not folded:
            return {}
        found: dict[int, tuple[Tier, int]] = {}

        def note(entry: int, tier: Tier, number: int) -> None:
            best = found.get(entry)
            if best is None or tier < best[0]:
                found[entry] = (tier, number)

        start = bisect_left(self._keys, folded)
        end = bisect_right(self._keys, folded + "\U0010ffff", lo=start)
        for position in range(start, end):
            entry, number, kind = _unpack(self._key_refs[position])
            tier = _EXACT[kind] if self._keys[position] == folded else _PREFIX[kind]
            if tier is not None:
                note(entry, tier, number)
        if len(folded) >= SUBSTRING_MIN_CHARS:
            text = self._text
            position = text.find(folded)
            while position != -1:
                entry, number, kind = _unpack(self._text_refs[bisect_right(self._text_starts, position) - 1])
                if position > 0 and text[position - 1] == " ":
                    note(entry, Tier.WORD_PREFIX, number)
                else:
                    note(entry, Tier.NAME_SUBSTRING if kind == _NAME else Tier.ALIAS_SUBSTRING, number)
                position = text.find(folded, position + 1)
        return {entry: Hit(tier, self._entries[entry].nth(number)) for entry, (tier, number) in found.items()}

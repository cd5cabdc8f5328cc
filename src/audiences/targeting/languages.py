"""Languages people can be targeted by: every ISO 639-1 language, named by `langcodes`.

The list is pycountry's ISO 639 table (the languages that have a two-letter code, which
is what the ad platforms' language lists are keyed by); `langcodes` (with its
`language-data` names) gives the English name, the name in the language itself, the
standard BCP 47 tag and the number of speakers, which orders search results.
"""

from __future__ import annotations

from dataclasses import dataclass

import langcodes
import pycountry

from audiences.targeting.loading import Lazy
from audiences.targeting.textsearch import NameIndex, Names

_STATUS = {"L": "living", "C": "constructed", "A": "ancient", "E": "extinct", "H": "historical"}


@dataclass(frozen=True, slots=True)
class LanguageInfo:
    code: str  # ISO 639-1
    tag: str  # BCP 47, standardised (`tl` → `fil`)
    name: str
    autonym: str
    iso639_3: str
    status: str
    speakers: int


@dataclass(frozen=True, slots=True)
class LanguageCatalog:
    languages: list[LanguageInfo]  # by English name
    index: NameIndex

    def search(self, q: str) -> list[LanguageInfo]:
        """Languages matching `q`, best match first, then most spoken."""
        hits = self.index.search(q)
        ranked = sorted(
            hits, key=lambda i: (hits[i].tier, -self.languages[i].speakers, self.languages[i].name)
        )
        return [self.languages[i] for i in ranked]


def _load() -> LanguageCatalog:
    entries: list[tuple[LanguageInfo, Names]] = []
    for entry in pycountry.languages:
        code = getattr(entry, "alpha_2", None)
        if code is None:
            continue
        tag = langcodes.standardize_tag(code)
        language = langcodes.Language.get(tag)
        info = LanguageInfo(
            code=code,
            tag=tag,
            name=language.display_name(),
            autonym=language.autonym(),
            iso639_3=entry.alpha_3,
            status=_STATUS.get(entry.type, entry.type),
            speakers=language.speaking_population(),
        )
        # pycountry's ISO name is an alias: ISO says "Bengali" where CLDR says "Bangla".
        entries.append((info, Names(info.name, (info.autonym, entry.name), (code, tag, entry.alpha_3))))
    entries.sort(key=lambda pair: pair[0].name)
    return LanguageCatalog([info for info, _ in entries], NameIndex([names for _, names in entries]))


catalog = Lazy(_load).get

"""The name index behind every targeting search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.targeting.textsearch import NameIndex, Names, Tier, fold


class TestFold:
    def test_ignores_case_accents_ligatures_and_punctuation(self) -> None:
        assert fold("Saint-Étienne") == "saint etienne"
        assert fold("ŁÓDŹ") == "lodz"
        assert fold("Ærøskøbing") == "aeroskobing"
        assert fold("Straße") == "strasse"
        assert fold("  New   York!! ") == "new york"

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=20))
    def test_is_idempotent(self, text: str) -> None:
        assert fold(fold(text)) == fold(text)


class TestNameIndex:
    index = NameIndex(
        [
            Names("Munich", ("München", "MUC", "Monaco di Baviera"), ("geonames:2867714",)),
            Names("Maturín", ("MUN",)),
            Names("Münster"),
            Names("New York City", ("NYC", "New York")),
        ]
    )

    def test_tiers_rank_exact_then_prefix_then_words_then_substrings(self) -> None:
        hits = self.index.search("mun")
        assert hits[0].tier == Tier.NAME_PREFIX
        assert hits[2].tier == Tier.NAME_PREFIX
        assert hits[1].tier == Tier.ABBREVIATION  # an airport code, exactly: after prefix matches
        assert self.index.search("york")[3].tier == Tier.WORD_PREFIX
        assert self.index.search("unich")[0].tier == Tier.NAME_SUBSTRING
        assert self.index.search("baviera")[0].tier == Tier.WORD_PREFIX

    def test_reports_the_name_that_matched(self) -> None:
        assert self.index.search("munchen")[0].matched == "München"
        assert self.index.search("nyc")[3].matched == "NYC"
        assert self.index.search("geonames:2867714")[0].tier == Tier.CODE

    def test_abbreviations_match_only_exactly(self) -> None:
        assert 3 not in self.index.search("ny")
        assert self.index.search("muc")[0].tier == Tier.ABBREVIATION

    def test_short_queries_match_prefixes_only(self) -> None:
        assert set(self.index.search("un")) == set()
        assert set(self.index.search("mü")) == {0, 2}

    def test_empty_query_matches_nothing(self) -> None:
        assert self.index.search(" - ") == {}

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(["Munich", "München", "Maturín", "Münster", "New York City", "New York"]))
    def test_every_name_finds_its_entry_exactly(self, name: str) -> None:
        hits = self.index.search(name.upper())
        assert min(hit.tier for hit in hits.values()) <= Tier.ALIAS

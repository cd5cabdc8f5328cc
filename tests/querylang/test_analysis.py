"""fields_used and uses_now: what a query reads."""

from __future__ import annotations

from audiences.querylang import fields_used, parse_where, uses_now


class TestFieldsUsed:
    def test_lists_every_field_path_once_sorted(self) -> None:
        where = {"$or": [{"country": "US"}, {"tags": {"$in": ["vip"]}}], "country": {"$ne": "FR"}, "a.b": 1}
        assert fields_used(where) == ["a.b", "country", "tags"]

    def test_elem_match_sub_fields_are_joined_to_the_array_path(self) -> None:
        where = {"items": {"$elemMatch": {"sku": "A", "qty": {"$gt": 1}}}}
        assert fields_used(where) == ["items.qty", "items.sku"]

    def test_an_empty_elem_match_still_reads_the_array(self) -> None:
        assert fields_used({"items": {"$elemMatch": {}}}) == ["items"]

    def test_fields_inside_not_and_nor_count(self) -> None:
        assert fields_used({"$nor": [{"a": {"$not": {"$gt": 1}}}]}) == ["a"]

    def test_accepts_a_parsed_query(self) -> None:
        assert fields_used(parse_where({"email": {"$exists": True}})) == ["email"]


class TestUsesNow:
    def test_true_when_any_value_is_relative(self) -> None:
        assert uses_now({"$or": [{"a": 1}, {"lastSeenAt": {"$gte": {"$now": "-P7D"}}}]})

    def test_true_inside_lists_not_and_elem_match(self) -> None:
        assert uses_now({"d": {"$in": [{"$now": "P0D"}]}})
        assert uses_now({"d": {"$not": {"$lt": {"$now": "-P1D"}}}})
        assert uses_now({"e": {"$elemMatch": {"at": {"$gt": {"$now": "-PT1H"}}}}})

    def test_false_for_absolute_dates(self) -> None:
        assert not uses_now({"lastSeenAt": {"$gte": "2026-01-01T00:00:00Z"}})

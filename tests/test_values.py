"""`values.check_value`: what a free-form value may hold (issue 13, finding 1)."""

from __future__ import annotations

from typing import Any

import pytest

from audiences.values import ValueLimits, ValueProblem, check_value, id_problem

SMALL = ValueLimits(max_string_length=5, max_array_length=3, max_elements=10, max_depth=3)


def problem(value: Any, limits: ValueLimits = SMALL) -> tuple[str, str] | None:
    try:
        check_value(value, path="", limits=limits)
    except ValueProblem as exc:
        return exc.code, exc.path
    return None


class TestCheckValue:
    @pytest.mark.parametrize(
        "value",
        [None, True, 0, -(2**63), 2**63 - 1, 1.5, "héllo", [1, 2, 3], {"a": {"b": [1]}}, {"ключ": "✓"}],
    )
    def test_ordinary_values_pass(self, value: Any) -> None:
        assert problem(value) is None

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ({"x": float("nan")}, ("non_finite_number", "x")),
            ({"x": [1, float("inf")]}, ("non_finite_number", "x[1]")),
            ({"x": 2**63}, ("integer_out_of_range", "x")),
            ({"x": -(2**63) - 1}, ("integer_out_of_range", "x")),
            ({"x": "\ud800"}, ("invalid_unicode", "x")),
            ({"x": {"\udfff": 1}}, ("invalid_field_name", "x")),
            ({"x": "toolong"}, ("string_too_long", "x")),
            ({"x": [1, 2, 3, 4]}, ("array_too_long", "x")),
            ({"a": {"b": {"c": {"d": 1}}}}, ("too_deep", "a.b.c")),
            ({"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2]}, ("too_many_elements", "")),
        ],
    )
    def test_refused_values_name_their_path(self, value: Any, expected: tuple[str, str]) -> None:
        assert problem(value) == expected

    def test_a_huge_array_is_refused_without_walking_it(self) -> None:
        huge = list(range(1_000_000))
        assert problem({"x": huge}, ValueLimits()) == ("array_too_long", "x")
        assert problem({"x": dict.fromkeys(map(str, range(30_000)), 1)}, ValueLimits()) == (
            "too_many_elements",
            "",
        )


class TestIdProblem:
    @pytest.mark.parametrize("value", ["a\x00b", "x\ud800"])
    def test_unreadable_ids_are_refused(self, value: str) -> None:
        assert id_problem(value) is not None

    def test_ordinary_ids_pass(self) -> None:
        assert id_problem("c-1001:émile@example.com") is None

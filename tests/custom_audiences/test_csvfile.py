"""The streaming CSV reader and the row rules, without HTTP."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.custom_audiences import csvfile
from audiences.custom_audiences.csvfile import CsvUpload, header_field, iter_lines, sniff_delimiter
from audiences.custom_audiences.errors import CsvUnreadable
from audiences.custom_audiences.matching import SeenKeys, normalise_row


class TestIterLines:
    def test_lines_split_across_reads_and_multibyte_characters_are_reassembled(self) -> None:
        text = "email\nzoë@bücher.de\n日本@example.jp\nlast-without-newline"
        raw = io.BytesIO(text.encode("utf-8"))
        assert list(iter_lines(raw, read_size=3)) == [
            "email\n",
            "zoë@bücher.de\n",
            "日本@example.jp\n",
            "last-without-newline",
        ]

    def test_a_utf8_bom_is_dropped(self) -> None:
        assert list(iter_lines(io.BytesIO(b"\xef\xbb\xbfemail\n"), read_size=2)) == ["email\n"]

    def test_bytes_that_are_not_utf8_become_replacement_characters(self) -> None:
        assert list(iter_lines(io.BytesIO(b"a\xffb\n"))) == ["a\ufffdb\n"]

    def test_a_line_longer_than_the_limit_stops_the_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(csvfile, "MAX_LINE_CHARS", 10)
        with pytest.raises(CsvUnreadable) as caught:
            list(iter_lines(io.BytesIO(b"ok\n" + b"x" * 50 + b"\n"), read_size=4))
        assert caught.value.code == "line_too_long"
        assert caught.value.errors[0].path == "file:2"

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.text(
                alphabet=st.characters(exclude_characters="\n\ufeff", exclude_categories=["Cs"]), max_size=12
            ),
            max_size=8,
        ),
        st.integers(min_value=1, max_value=7),
    )
    def test_any_text_comes_back_line_for_line_whatever_the_read_size(
        self, lines: list[str], size: int
    ) -> None:
        text = "".join(f"{line}\n" for line in lines)
        assert list(iter_lines(io.BytesIO(text.encode("utf-8")), read_size=size)) == [f"{x}\n" for x in lines]


class TestHeader:
    @pytest.mark.parametrize(
        ("name", "field"),
        [
            ("E-mail", "email"),
            ("EMAIL ADDRESS", "email"),
            ("Phone Number", "phone"),
            ("mobile", "phone"),
            ("First Name", "firstName"),
            ("surname", "lastName"),
            ("Country Code", "country"),
            ("Postal Code", "zip"),
            ("ZIP", "zip"),
            ("External ID", "externalId"),
            ("customer_id", "externalId"),
            ("Notes", None),
        ],
    )
    def test_common_spellings_map_to_fields(self, name: str, field: str | None) -> None:
        assert header_field(name) == field

    @pytest.mark.parametrize(
        ("line", "delimiter"),
        [
            ("email,phone\n", ","),
            ("email;phone\n", ";"),
            ("email\tphone\n", "\t"),
            ("a|b|c\n", "|"),
            ("email\n", ","),
        ],
    )
    def test_the_delimiter_is_the_one_the_header_uses_most(self, line: str, delimiter: str) -> None:
        assert sniff_delimiter(line) == delimiter


class TestRecords:
    def test_records_come_in_chunks_with_their_file_line_numbers(self) -> None:
        raw = io.BytesIO(b'\nEmail;Note\na@example.com;x\n\nb@example.com;"two\nlines"\nc@example.com;z\n')
        upload = CsvUpload.open(raw)
        first, done = upload.records(2)
        assert first == [(3, {"email": "a@example.com"}), (6, {"email": "b@example.com"})]
        assert done is False
        rest, done = upload.records(2)
        assert rest == [(7, {"email": "c@example.com"})]
        assert done is True

    def test_short_rows_leave_missing_columns_out(self) -> None:
        upload = CsvUpload.open(io.BytesIO(b"email,phone,country\na@example.com\n"))
        assert upload.records(10)[0] == [(2, {"email": "a@example.com"})]


class TestNormaliseRow:
    def test_a_usable_row_keeps_its_good_values_and_names_the_dropped_ones(self) -> None:
        outcome = normalise_row(
            7, {"email": " A@Example.com", "phone": "nonsense", "country": "de"}, default_region=None
        )
        assert outcome.row is not None
        assert (outcome.row.email, outcome.row.phone, outcome.row.country) == ("a@example.com", None, "DE")
        assert outcome.dropped == ("phone",)

    def test_the_row_country_beats_the_default_region(self) -> None:
        outcome = normalise_row(2, {"phone": "030 1234567", "country": "DE"}, default_region="US")
        assert outcome.row is not None
        assert outcome.row.phone == "+49301234567"

    @pytest.mark.parametrize(
        ("values", "code"),
        [
            ({"email": "nope"}, "invalid_email"),
            ({"phone": "12", "country": "DE"}, "invalid_phone"),
            ({"country": "DE", "firstName": "Ada"}, "missing_identifier"),
            ({"email": "a\ufffd@example.com"}, "invalid_encoding"),
            ({"externalId": "x" * 300}, "invalid_external_id"),
        ],
    )
    def test_a_row_without_a_usable_identifier_is_invalid(self, values: dict[str, str], code: str) -> None:
        outcome = normalise_row(3, values, default_region=None)
        assert outcome.row is None
        assert outcome.invalid_code == code


class TestSeenKeys:
    def test_remembers_every_digest_added_in_any_number_of_runs(self) -> None:
        seen = SeenKeys()
        rnd = random.Random(7)
        added: set[int] = set()
        for _ in range(40):
            batch = {rnd.getrandbits(64) for _ in range(rnd.randint(0, 300))} - added
            seen.add_all(batch)
            added |= batch
        assert len(seen) == len(added)
        assert all(d in seen for d in added)
        assert not any(rnd.getrandbits(64) in seen for _ in range(2000))

    def test_uses_about_8_bytes_per_key(self) -> None:
        seen = SeenKeys()
        for start in range(0, 100_000, 1000):
            seen.add_all(range(start * 7919, (start + 1000) * 7919, 7919))
        assert seen._runs
        assert sum(run.itemsize * len(run) for run in seen._runs) == 8 * 100_000
        assert len(seen._runs) < 10

"""POST /custom/{id}/upload: reading the CSV, matching rows to contacts, the report."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import IngestFn
from tests.custom_audiences.conftest import BASE, CreateFn, UploadFn

CONTACTS: list[dict[str, Any]] = [
    {"id": "ada", "email": "ada@example.com", "country": "DE", "phone": "+49 30 1234567"},
    {"id": "bob", "email": "bob@example.com", "country": "GB", "phone": "+44 7911 123456"},
    {"id": "cy", "email": "cy@example.com", "country": "US", "phone": "+1 415 555 0123"},
]


async def _members(client: httpx.AsyncClient, audience_id: str) -> int:
    return int((await client.get(f"{BASE}/custom/{audience_id}")).json()["memberCount"])


class TestReadingTheFile:
    async def test_header_variants_map_case_insensitively_and_unknown_columns_are_ignored(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        text = (
            "E-MAIL,Phone Number,First Name,SURNAME,Zip Code,Notes,email\nada@example.com,,Ada,L,10115,hi,\n"
        )
        r = await upload_csv(audience["id"], text)
        assert r.status_code == 200
        report = r.json()
        assert report["columns"] == {
            "E-MAIL": "email",
            "Phone Number": "phone",
            "First Name": "firstName",
            "SURNAME": "lastName",
            "Zip Code": "zip",
        }
        assert report["ignoredColumns"] == ["Notes", "email"]
        assert report["matched"] == 1

    async def test_sniffs_semicolon_tab_and_pipe_delimiters(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        for delimiter in (";", "\t", "|", ","):
            audience = await create_custom({"type": "file_upload", "name": repr(delimiter)})
            text = f"email{delimiter}country\nada@example.com{delimiter}DE\nbob@example.com{delimiter}GB\n"
            report = (await upload_csv(audience["id"], text)).json()
            assert report["delimiter"] == delimiter
            assert (report["rows"], report["matched"]) == (2, 2)

    async def test_reads_utf8_with_a_bom_quoted_fields_and_crlf_line_ends(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, [*CONTACTS, {"id": "zoe", "email": "zoë@bücher.de"}], [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        body = '\ufeffEmail,Note\r\n"zoë@bücher.de","a, b\r\nstill the note"\r\nada@example.com,x\r\n'
        report = (await upload_csv(audience["id"], body.encode("utf-8"))).json()
        assert report["columns"] == {"Email": "email"}
        assert (report["rows"], report["matched"], report["invalidCount"]) == (2, 2, 0)

    async def test_blank_lines_are_not_rows(self, create_custom: CreateFn, upload_csv: UploadFn) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        report = (await upload_csv(audience["id"], "\n\nemail\n\na@example.com\n,\n\nb@example.com")).json()
        assert (report["rows"], report["unmatched"]) == (2, 2)

    async def test_unreadable_files_are_400_with_a_code(
        self, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        cases = {
            "empty_file": b"\n \n",
            "no_identifier_column": b"name,city\nAda,Berlin\n",
            "unsupported_encoding": "email\na@example.com\n".encode("utf-16"),
            "malformed_csv": b'email,note\na@example.com,"unterminated\n',
        }
        for code, content in cases.items():
            r = await upload_csv(audience["id"], content)
            assert r.status_code == 400, code
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == code

    async def test_only_upload_types_take_files(
        self, client: httpx.AsyncClient, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        pixel = await create_custom(
            {"type": "retargeting_pixel", "name": "p", "pixelId": "px", "eventNames": ["v"], "windowDays": 3}
        )
        r = await upload_csv(pixel["id"], "email\na@example.com\n")
        assert r.status_code == 409
        assert r.json()["code"] == "operation_not_supported"
        assert (await upload_csv("cus_missing", "email\na@example.com\n")).status_code == 404


class TestMatching:
    async def test_emails_are_trimmed_and_lowercased_before_matching(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        report = (await upload_csv(audience["id"], "email\n  ADA@Example.COM \n")).json()
        assert report["matched"] == 1
        assert await _members(client, audience["id"]) == 1

    async def test_phones_in_local_formats_match_contacts_stored_in_e164(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        text = (
            "phone,country\n"
            "030 1234567,DE\n"  # German national format, region from the row
            "07911 123456,United Kingdom\n"  # UK national format, country given by name
            "(415) 555-0123,\n"  # US national format, region from defaultRegion
            "+44 7911 123456,\n"  # bob again, in international format: a duplicate
        )
        r = await upload_csv(audience["id"], text, params={"defaultRegion": "us"})
        report = r.json()
        assert (report["rows"], report["matched"], report["duplicates"]) == (4, 3, 1)
        assert await _members(client, audience["id"]) == 3

    async def test_a_local_phone_without_any_region_is_invalid(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        report = (await upload_csv(audience["id"], "phone\n030 1234567\n")).json()
        assert report["invalid"] == [{"line": 2, "code": "invalid_phone"}]
        assert report["matched"] == 0

    async def test_external_ids_match_contact_ids_first(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        # The id says bob, the e-mail says ada: the caller's own id wins.
        report = (await upload_csv(audience["id"], "Customer ID,Email\nbob,ada@example.com\n")).json()
        assert report["matched"] == 1
        again = (await upload_csv(audience["id"], "id\nbob\n")).json()
        assert (again["duplicates"], again["matched"]) == (0, 1)  # the first row's identity was its e-mail
        assert await _members(client, audience["id"]) == 1

    async def test_the_report_counts_every_row_once(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        text = (
            "email,phone,country\n"
            "ada@example.com,,\n"  # line 2: matched
            "nobody@example.com,,\n"  # line 3: unmatched, kept hashed
            "not an email,,\n"  # line 4: invalid
            "ADA@example.com,,\n"  # line 5: duplicate of line 2
            ",,\n"  # line 6: blank, not a row
            ",12,DE\n"  # line 7: invalid phone
            "cy@example.com,garbage,US\n"  # line 8: matched; the bad phone is dropped
            "no-identifier-here@,,\n"  # line 9: invalid
            ",,FR\n"  # line 10: no identifier
        )
        report = (await upload_csv(audience["id"], text)).json()
        assert report["rows"] == 8
        assert (report["matched"], report["unmatched"], report["duplicates"]) == (2, 1, 1)
        assert report["invalid"] == [
            {"line": 4, "code": "invalid_email"},
            {"line": 7, "code": "invalid_phone"},
            {"line": 9, "code": "invalid_email"},
            {"line": 10, "code": "missing_identifier"},
        ]
        assert report["invalidCount"] == 4
        assert report["fieldErrors"] == {"phone": 1}
        assert report["memberCount"] == 2
        audience_now = (await client.get(f"{BASE}/custom/{audience['id']}")).json()
        assert audience_now["stats"]["rows"] == 3  # distinct rows kept: matched + unmatched
        assert audience_now["stats"]["pending"] == 1
        assert audience_now["stats"]["uploads"] == 1

    async def test_rows_already_uploaded_are_duplicates_the_next_time(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        await upload_csv(audience["id"], "email\nada@example.com\nnew@example.com\n")
        report = (await upload_csv(audience["id"], "email\nnew@example.com\nbob@example.com\n")).json()
        assert (report["duplicates"], report["matched"], report["unmatched"]) == (1, 1, 0)
        stats = (await client.get(f"{BASE}/custom/{audience['id']}")).json()
        assert stats["memberCount"] == 2
        assert stats["stats"] == {**stats["stats"], "rows": 3, "pending": 1, "uploads": 2}

    async def test_the_invalid_list_is_capped_at_1000_with_the_total_count(
        self, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        report = (await upload_csv(audience["id"], "email\n" + "broken\n" * 1500)).json()
        assert len(report["invalid"]) == 1000
        assert report["invalid"][-1] == {"line": 1001, "code": "invalid_email"}
        assert report["invalidCount"] == 1500

    async def test_a_bad_default_region_is_rejected(
        self, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        r = await upload_csv(audience["id"], "phone\n0301234567\n", params={"defaultRegion": "Narnia"})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_default_region"


class TestLaterMatching:
    async def test_an_unmatched_row_joins_when_its_contact_is_ingested(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        report = (
            await upload_csv(audience["id"], "email,phone,country\nlate@example.com,,\n,030 7654321,DE\n")
        ).json()
        assert report["unmatched"] == 2
        await ingest(
            client,
            [{"id": "late", "email": "Late@Example.com"}, {"id": "other", "email": "o@example.com"}],
            [],
        )
        assert await _members(client, audience["id"]) == 1
        await ingest(client, [{"id": "caller", "phone": "+49 30 7654321"}], [])
        now = (await client.get(f"{BASE}/custom/{audience['id']}")).json()
        assert now["memberCount"] == 2
        assert now["stats"]["pending"] == 0

    async def test_an_existing_contact_joins_when_it_gets_the_uploaded_email(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, [{"id": "kim", "tier": "free"}], [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        await upload_csv(audience["id"], "email\nkim@example.com\n")
        await ingest(client, [{"id": "kim", "tier": "pro"}], [])  # no identifier written
        assert await _members(client, audience["id"]) == 0
        await ingest(client, [{"id": "kim", "email": "KIM@example.com"}], [])
        assert await _members(client, audience["id"]) == 1

    async def test_matching_later_is_per_org(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        ingest: IngestFn,
        create_custom: CreateFn,
        upload_csv: UploadFn,
    ) -> None:
        audience = await create_custom({"type": "file_upload", "name": "x"})
        await upload_csv(audience["id"], "email\nlate@example.com\n")
        await ingest(other_client, [{"id": "late", "email": "late@example.com"}], [])
        assert await _members(client, audience["id"]) == 0

    async def test_a_deleted_contact_leaves_its_audiences(
        self, client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
    ) -> None:
        await ingest(client, CONTACTS, [])
        audience = await create_custom({"type": "file_upload", "name": "x"})
        await upload_csv(audience["id"], "email\nada@example.com\nbob@example.com\n")
        assert (await client.delete("/api/crm/contacts/ada")).status_code == 204
        assert await _members(client, audience["id"]) == 1

"""Demo data looks like real customers: valid e-mails, E.164 phones, real places."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pycountry

from audiences.contacts.fields import normalise_contact_fields
from audiences.demo.people import DemoShape, generate_contacts, generate_events

AS_OF = dt.datetime(2026, 4, 24, tzinfo=dt.UTC)


class TestDemoPeople:
    def test_every_contact_passes_ingestion_typing(self) -> None:
        contacts = list(generate_contacts(DemoShape(contacts=300, events_per_contact=2, as_of=AS_OF)))
        for contact in contacts:
            fields = {k: v for k, v in contact.items() if k != "id"}
            typed = normalise_contact_fields(fields)
            assert pycountry.countries.get(alpha_2=typed["country"]) is not None
            if "phone" in typed:
                assert phonenumbers.is_valid_number(phonenumbers.parse(typed["phone"]))

    def test_same_seed_same_tenant(self) -> None:
        shape = DemoShape(contacts=50, events_per_contact=4, as_of=AS_OF)
        assert list(generate_contacts(shape)) == list(generate_contacts(shape))
        ids = [f"c{i:07d}" for i in range(50)]
        assert list(generate_events(shape, ids)) == list(generate_events(shape, ids))

    def test_events_fall_in_the_90_days_before_as_of(self) -> None:
        shape = DemoShape(contacts=100, events_per_contact=5, as_of=AS_OF)
        events = list(generate_events(shape, [f"c{i:07d}" for i in range(100)]))
        assert events
        for event in events:
            ts = dt.datetime.fromisoformat(event["ts"])
            assert AS_OF - dt.timedelta(days=91) <= ts <= AS_OF

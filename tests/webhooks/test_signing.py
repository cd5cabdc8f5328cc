"""Signatures: `sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`."""

from __future__ import annotations

import hashlib
import hmac

from audiences.webhooks.signing import new_secret, sign, verify_signature

BODY = b'{"id":"chg_1","type":"audience.entered"}'


class TestSign:
    def test_the_signature_is_the_hmac_of_timestamp_dot_body(self) -> None:
        expected = hmac.new(b"whsec_k", b"1777032000." + BODY, hashlib.sha256).hexdigest()
        assert sign("whsec_k", 1777032000, BODY) == f"sha256={expected}"

    def test_secrets_are_random_and_prefixed(self) -> None:
        a, b = new_secret(), new_secret()
        assert a != b
        assert a.startswith("whsec_")
        assert len(a) > 40


class TestVerifySignature:
    def test_a_fresh_correct_signature_verifies(self) -> None:
        sig = sign("s", 1000, BODY)
        assert verify_signature("s", timestamp="1000", body=BODY, signature=sig, now=1100)

    def test_a_changed_body_fails(self) -> None:
        sig = sign("s", 1000, BODY)
        assert not verify_signature("s", timestamp="1000", body=BODY + b" ", signature=sig, now=1000)

    def test_another_secret_fails(self) -> None:
        sig = sign("s", 1000, BODY)
        assert not verify_signature("t", timestamp="1000", body=BODY, signature=sig, now=1000)

    def test_an_old_timestamp_is_refused_as_a_replay(self) -> None:
        sig = sign("s", 1000, BODY)
        assert not verify_signature("s", timestamp="1000", body=BODY, signature=sig, now=1000 + 301)

    def test_a_malformed_timestamp_fails(self) -> None:
        assert not verify_signature("s", timestamp="soon", body=BODY, signature="sha256=00", now=1000)

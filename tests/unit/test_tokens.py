"""Bearer secrets and passwords (scheduler/staff/tokens.py; docs/security.md): tokens are
32 bytes from :mod:`secrets` stored only as SHA-256 digests, passwords are Argon2id with RFC 9106's
parameters, legacy scrypt hashes still verify and are marked for upgrade, and every secret is
compared in constant time (``hmac.compare_digest``, argon2's own verify)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

import argon2
import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from scheduler.staff import access, tokens
from scheduler.staff.tokens import (
    TOKEN_BYTES,
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from tests.support.passwords import legacy_scrypt_hash
from tests.support.staff import PASSWORD

URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def hashed() -> str:
    """One Argon2id hash of PASSWORD for the module (each costs 64 MiB and a few hundred ms)."""
    return hash_password(PASSWORD)


# ---- tokens -------------------------------------------------------------------------------------------


def test_a_token_is_32_random_bytes_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TOKEN_BYTES * 8 >= 128
    asked: list[int | None] = []
    real = secrets.token_urlsafe

    def spy(nbytes: int | None = None) -> str:
        asked.append(nbytes)
        return real(nbytes)

    monkeypatch.setattr(tokens.secrets, "token_urlsafe", spy)
    token = new_token()
    assert asked == [32]
    assert URLSAFE.fullmatch(token)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) == 32  # 256 bits, well above the 128 asked for


def test_tokens_do_not_repeat() -> None:
    drawn = {new_token() for _ in range(2000)}
    assert len(drawn) == 2000
    assert len({token[:11] for token in drawn}) == 2000  # even 64-bit prefixes never collide


def test_the_stored_form_is_a_sha256_digest() -> None:
    token = new_token()
    digest = token_digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token not in digest
    assert token_digest(token) == digest  # deterministic: a lookup is one indexed equality
    assert token_digest(new_token()) != digest


@pytest.mark.parametrize(
    "token",
    ["", " ", "x", "A" * 43, "ü" * 50, "\x00", "\ud800", "' OR 1=1 --", "%", "_", "\\", "x" * 100_000],
    ids=["empty", "space", "short", "wrong", "unicode", "nul", "lone-surrogate", "sql", "percent",
         "underscore", "backslash", "huge"],
)  # fmt: skip
def test_any_string_hashes_the_same_way(token: str) -> None:
    """A malformed token takes the path of a well-formed one: no exception, one 64-hex digest."""
    assert re.fullmatch(r"[0-9a-f]{64}", token_digest(token))


# ---- passwords ----------------------------------------------------------------------------------------


def test_passwords_are_argon2id_with_rfc_9106_parameters(hashed: str) -> None:
    assert hashed.startswith("$argon2id$v=19$")
    params = extract_parameters(hashed)
    assert params.type is Type.ID
    assert params == argon2.profiles.RFC_9106_LOW_MEMORY  # t=3, m=64 MiB, p=4, 16-byte salt, 32-byte hash
    assert params.memory_cost >= 64 * 1024
    assert params.time_cost >= 3
    assert params.salt_len >= 16
    assert params.hash_len >= 32
    assert PASSWORD not in hashed
    assert PASSWORD.encode().hex() not in hashed


def test_hashes_are_salted(hashed: str) -> None:
    again = hash_password(PASSWORD)
    assert again != hashed
    assert verify_password(PASSWORD, again)
    assert verify_password(PASSWORD, hashed)


@pytest.mark.parametrize(
    "attempt", ["", "correct horse batter", "Correct horse battery", "correct horse battery ", "\x00"]
)
def test_only_the_password_verifies(hashed: str, attempt: str) -> None:
    assert not verify_password(attempt, hashed)


@pytest.mark.parametrize(
    "damaged",
    ["", "plain text", "$argon2id$", "$argon2id$v=19$m=65536,t=3,p=4$bad$bad", "scrypt$",
     "scrypt$x$8$1$00$00", "scrypt$16384$8$1$zz$00", "bcrypt$whatever", PASSWORD],
)  # fmt: skip
def test_a_damaged_or_foreign_hash_verifies_nothing(damaged: str) -> None:
    assert not verify_password(PASSWORD, damaged)


def test_a_fresh_hash_needs_no_rehash_and_weaker_ones_do(hashed: str) -> None:
    assert not needs_rehash(hashed)
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify_password(PASSWORD, weaker)
    assert needs_rehash(weaker)
    argon2i = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.I).hash(PASSWORD)
    assert needs_rehash(argon2i)
    assert needs_rehash(legacy_scrypt_hash(PASSWORD))


def test_a_legacy_scrypt_hash_still_verifies() -> None:
    legacy = legacy_scrypt_hash(PASSWORD)
    assert verify_password(PASSWORD, legacy)
    assert not verify_password("wrong password", legacy)
    assert not verify_password(PASSWORD, legacy[:-2] + ("00" if not legacy.endswith("00") else "11"))


def test_a_legacy_hash_asking_for_too_much_memory_is_refused_not_run() -> None:
    """n = 2**20 with r = 8 needs 1 GiB: hashlib refuses it above its 32 MiB default, so a forged
    row cannot make a sign-in allocate it."""
    salt, digest = "00" * 16, "00" * 64
    assert not verify_password(PASSWORD, f"scrypt${2**20}$8$1${salt}${digest}")


def test_the_dummy_hash_for_unknown_users_costs_what_a_real_one_does(hashed: str) -> None:
    """Sign-in verifies against a dummy Argon2id hash when the username is unknown, so the answer
    takes as long as for a known user with a wrong password."""
    assert extract_parameters(access._dummy_hash()) == extract_parameters(hashed)


# ---- constant-time comparison --------------------------------------------------------------------------


class Spy:
    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


def test_csrf_tokens_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(hmac.compare_digest)
    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    expected = secrets.token_urlsafe(32)
    assert access.csrf_matches(expected, expected)
    assert not access.csrf_matches(expected, expected[:-1] + ("A" if expected[-1] != "A" else "B"))
    assert not access.csrf_matches(expected, "")
    assert not access.csrf_matches(expected, "ü" * 43)  # non-ASCII: compared as bytes, no TypeError
    assert spy.calls == 4
    assert not access.csrf_matches(expected, None)  # nothing to compare


def test_scrypt_digests_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = legacy_scrypt_hash(PASSWORD)
    spy = Spy(hmac.compare_digest)
    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert verify_password(PASSWORD, legacy)
    assert not verify_password("wrong password", legacy)
    assert spy.calls == 2


def test_argon2_hashes_are_checked_by_argon2s_verify(hashed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libargon2's verify compares in constant time; the code never compares hashes itself."""
    spy = Spy(PasswordHasher.verify)

    def verify(self: PasswordHasher, *args: Any) -> Any:
        return spy(self, *args)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    assert verify_password(PASSWORD, hashed)
    assert not verify_password("wrong password", hashed)
    assert spy.calls == 2

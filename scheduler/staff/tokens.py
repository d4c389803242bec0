"""Bearer secrets (API tokens, feed tokens) and passwords.

A token is 32 random bytes from :mod:`secrets` (256 bits), URL-safe base64; only its SHA-256
digest is stored, so a copy of the database opens no calendar and signs in nobody. A digest of a
high-entropy token needs no salt or slow hash. Passwords, low-entropy, get Argon2id (argon2-cffi,
its default parameters: RFC 9106's second recommendation); hashes made by an earlier version with
scrypt still verify, and :func:`needs_rehash` tells the sign-in to upgrade them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The stored form of a token; any string (even a malformed one) hashes the same way and in the
    same time, so a lookup does not reveal whether a token was well formed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2") or _hasher.check_needs_rehash(stored)


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored Argon2id (or legacy scrypt) hash."""
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)

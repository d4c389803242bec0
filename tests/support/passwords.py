"""Password hashes as older versions wrote them, for the tests of their upgrade path."""

from __future__ import annotations

import hashlib
import secrets


def legacy_scrypt_hash(password: str, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """A hash as the scrypt version of tokens.hash_password wrote it (before Argon2id)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"

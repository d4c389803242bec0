"""The browser tests' shared fixture: the running stack (tests/support/browser.py)."""

from tests.support.browser import stack

__all__ = ["stack"]

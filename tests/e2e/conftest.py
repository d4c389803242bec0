"""The browser tests' shared fixtures: the running stack and the browser (tests/support/browser.py)."""

from tests.support.browser import browser, stack

__all__ = ["browser", "stack"]

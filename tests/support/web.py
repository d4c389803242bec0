"""The dashboard seen from a test client: the settings of a test's web app, signing in and the
page's CSRF token, the audit lines a page wrote, and the markup checks every page passes (what the
CSP would block, every field labelled; the landmarks and the skip link)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from models.rows import AuditRow
from scheduler.config.settings import Settings
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD

HTTP_BASE = "http://testserver"


def settings_for(db: Database, tmp_path: Path, base_url: str = HTTP_BASE) -> Settings:
    """The web app's settings on ``db``, planning as of :data:`AS_OF`, served at ``base_url``."""
    return Settings(env="test", database_url=db.url, data_dir=tmp_path, as_of=AS_OF, base_url=base_url)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``username`` in on ``client``; the CSRF token of the session."""
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def audit_rows(db: Database, action: str) -> list[tuple[str | None, str | None, str | None]]:
    """(username, patient id, detail) of every audit line of ``action``, oldest first."""
    with db.sessions() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))
        return [(row.username, row.patient_id, row.detail) for row in rows]


class Page(HTMLParser):
    """What the markup tests look at: scripts, styles, inputs and their labels, landmarks."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def by_id(self, element_id: str) -> tuple[str, dict[str, str]]:
        found = [(name, attrs) for name, attrs in self.tags if attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]


def assert_csp_clean(html: str) -> None:
    """Nothing the CSP (script-src 'self'; style-src 'self') would block, every field labelled."""
    page = Page(html)
    assert page.script_text == [], "inline script"
    assert all(attrs.get("src", "").startswith("/static/") for attrs in page.all("script"))
    assert page.all("style") == [], "a <style> element"
    for name, attrs in page.tags:
        assert "style" not in attrs, f"style attribute on <{name}>"
        assert not any(key.startswith("on") for key in attrs), f"inline event handler on <{name}>"
        if name == "a":
            assert not attrs.get("href", "").lower().startswith("javascript:")
    for link in page.all("link"):
        assert link["href"].startswith("/static/"), "a stylesheet from another origin"
    ids = [attrs["id"] for _, attrs in page.tags if "id" in attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    labelled = {attrs["for"] for attrs in page.all("label") if "for" in attrs}
    fields = [(name, attrs) for name, attrs in page.tags if name in ("input", "select", "textarea")]
    for name, attrs in fields:
        if attrs.get("type") == "hidden":
            continue
        assert attrs.get("id") in labelled, f"<{name} name={attrs.get('name')!r}> has no <label for>"


def assert_landmarks(html: str) -> None:
    """Header, main and footer; the skip link first, to ``#main``; every ``<th>`` scoped."""
    page = Page(html)
    names = [name for name, _ in page.tags]
    assert {"header", "main", "footer"} <= set(names)
    assert page.all("a")[0]["href"] == "#main", "the skip link comes first"
    assert page.by_id("main")[0] == "main"
    for attrs in page.all("th"):
        assert attrs.get("scope") in ("col", "row"), "a <th> without scope"

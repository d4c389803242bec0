"""Bad input through every door: Hypothesis-generated junk events through
``gistsched plan``, ``gistsched submit`` and ``POST /api/events``, the dashboard's event form and its
sign-in form, on SQLite and PostgreSQL.

What every door promises (event-contract.md §1, §3, §4): never a 500 or a traceback; the command
line exits 2 with one stderr line per refused line, naming the line and the field (``plan`` prints
nothing on stdout); the API answers a 4xx JSON body naming each refused item's position and field;
nothing of a refused event is stored (events and patients are counted before and after); the
request size limit holds (413 over 5 MB).

The sweeps draw junk of every kind — wrong types, huge and unicode strings (NUL, RTL marks, emoji),
nested junk, extreme and impossible dates, numbers as strings, NaN/Infinity literals, duplicate keys,
unknown keys — one mutation per line of an otherwise valid event, so the field each error must name
is known. Each bad-input bug this suite found (docs/security.md §9) has a regression test below
(section "regression tests") pinned to the answer the contract gives (422, or exit 2), and the
sweeps draw from every character class (lone surrogates, raw line separators, control characters
in keys).

One cohort is stored per backend for the whole module; tests compare counts, so they may run in any
order.
"""

from __future__ import annotations

import ast
import json
import os
import re
import string
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from models.rows import AuditRow, EventRow, PatientRow
from scheduler.app.wiring import create_web_app
from scheduler.config.settings import Settings
from scheduler.domain.events import DATA_MODELS, EVENT_TYPES, ULN_REQUIRED_TESTS
from tests.strategies import st_event, st_patient_id
from tests.support.common import cli_env, gistsched, read_cohort
from tests.support.services import Database
from tests.support.staff import AS_OF, PASSWORD
from tests.support.stores import close_store, open_store
from web.deps import COOKIE
from web.forms import FORMS

pytestmark = pytest.mark.integration

MB = 1024 * 1024
PATIENT = "P05"  # an existing cohort patient (nav-ana's) for the valid companions of junk lines


# ---- one stored cohort per backend -----------------------------------------------------------------


@dataclass
class Store:
    """A migrated database with the example cohort planned as of AS_OF, a clinician's API token,
    an API client on it and a folder for files and the CLI's data."""

    db: Database
    folder: Path
    token: str
    client: TestClient

    @property
    def backend(self) -> str:
        return self.db.backend

    def counts(self) -> tuple[int, int]:
        """(events, patients) stored."""
        return self.db.count(EventRow), self.db.count(PatientRow)

    def env(self) -> dict[str, str]:
        return cli_env(self.db.url, self.folder, GIST_AS_OF=AS_OF.isoformat())

    def post(self, body: bytes) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "content-type": "application/json"}
        return self.client.post("/api/events", content=body, headers=headers)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"bad-input-{backend}")
    postgres = request.getfixturevalue("postgres_server") if backend == "postgresql" else None
    db, url, tokens = open_store(backend, folder, postgres, {"cleo": ("clinician", None)})
    settings_ = Settings(env="test", database_url=url, data_dir=folder, as_of=AS_OF)
    try:
        with TestClient(create_web_app(settings_, db.sessions), raise_server_exceptions=False) as client:
            yield Store(db, folder, tokens["cleo"], client)
    finally:
        close_store(db, url, postgres)


# ---- junk ---------------------------------------------------------------------------------------------

# Characters the sweeps draw from: every class, lone surrogates (Cs), raw line separators (Zl, Zp,
# NEL) and control characters included. A lone surrogate cannot be encoded in UTF-8, so ``dumps``
# writes it as a JSON escape (as any client must); the rest go into the text as they are.
SWEEP_CHARS = st.characters(exclude_categories=())
KEY_CHARS = SWEEP_CHARS
# A form body is UTF-8 (or percent-encoded UTF-8): a lone surrogate cannot be sent at all.
FORM_CHARS = st.characters(exclude_categories=("Cs",))
ODD = [
    "\u202e",
    "\u200f",
    "\u200b",
    "\ufeff",
    "😀",
    "👩‍⚕️",
    "e\u0301",
    "\U0010ffff",
    "Ａ",
    "İ",
    "\x00",
    "ﷺ",
    "'",
    "%",
]
NAN, INF, NINF = "\x01NaN\x01", "\x01Infinity\x01", "\x01-Infinity\x01"  # written as bare literals
LITERALS = {json.dumps(NAN): "NaN", json.dumps(INF): "Infinity", json.dumps(NINF): "-Infinity"}

odd_text = st.one_of(
    st.text(SWEEP_CHARS, max_size=30),
    st.lists(st.sampled_from(ODD), min_size=1, max_size=6).map("".join),
)
huge_text = st.builds(lambda char, n: char * n, st.sampled_from(["x", "é", "😀", "\u202e", "\x00"]),
                      st.integers(1_000, 20_000))  # fmt: skip
literals = st.sampled_from([NAN, INF, NINF])
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False), odd_text, literals,
)  # fmt: skip
keys = st.text(KEY_CHARS, max_size=6)
nested = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=12
)
finite = st.floats(allow_nan=False, allow_infinity=False)  # NaN and Infinity only as the literals above
not_text = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), finite, literals,
    st.lists(nested, min_size=0, max_size=3), st.dictionaries(keys, nested, max_size=3),
)  # fmt: skip
not_a_date = st.one_of(
    st.sampled_from(
        ["2026-02-30", "0001-01-01", "1899-12-31", "2026-13-01", "2026-00-10", "2026-11-00",
         "2026-1-1", "26-01-01", "2026-11-01T00:00:00", "", " 2026-11-01", "2026/11/01", "٢٠٢٦-١١-٠١",
         "２０２６-１１-０１", "2026-11-01\u200f", "20261101", "NaN", "today", "+2026-11-01", "-001-01-01"]
    ),
    not_text,
)  # fmt: skip
AFTER_RECEIPT = ["9999-12-31", "2026-11-28"]  # valid for `plan` (ignored there), refused on receipt

TOP_KEYS = ("event_id", "patient_id", "type", "occurred_on", "data")
NUMBERS = {"size_cm", "dose_mg", "value", "uln", "mitoses_per_5mm2", "exon"}
BOOLEANS = {"metastatic", "cd117", "dog1"}
FREE_TEXT = {"name", "email", "navigator_id", "variant", "decision"}
OUT_OF_RANGE: dict[str, list[Any]] = {
    "size_cm": [0, -1, 100.0001, 1e308, -0.0],
    "dose_mg": [0, -400, 2000.5, 1e308],
    "mitoses_per_5mm2": [-1, 1001, 2.5, 10**300],
    "exon": [0, 31, 9.5, -(10**300)],
    "value": [-0.001, -(10**300)],
    "uln": [0, -40],
}
NUMBERS_AS_TEXT = [
    "400",
    "4e2",
    "0x10",
    " 3",
    "3 ",
    "١٢",
    "１２",
    "NaN",
    "Infinity",
    "-0",
    "",
    "3,5",
    "1_000",
]


@dataclass(frozen=True)
class Junk:
    """One JSON line the contract refuses and the field its error must name, on receipt (API and
    ``submit``) and in ``plan`` (None: a NaN/Infinity literal, which ``plan`` refuses as invalid JSON)."""

    text: str
    field: str
    plan_field: str | None


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(obj: object, ascii_only: bool) -> str:
    """JSON text with the sentinels as bare NaN/Infinity literals; raw line separators (U+2028,
    U+2029, NEL) left raw, as JSON allows inside strings; lone surrogates as JSON escapes (UTF-8
    cannot hold them)."""
    text = json.dumps(obj, ensure_ascii=ascii_only)
    for quoted, literal in LITERALS.items():
        text = text.replace(quoted, literal)
    return LONE_SURROGATE.sub(lambda m: json.dumps(m.group())[1:-1], text)


def has_literal(value: object) -> bool:
    return any(quoted in json.dumps(value) for quoted in LITERALS)


def invalid_text_for(field: str) -> st.SearchStrategy[Any]:
    """A value ``field`` (top level) refuses."""
    if field == "event_id":
        return st.one_of(not_text, st.just(""), huge_text)  # huge: over 128 characters
    if field == "patient_id":
        bad = st.sampled_from([" ", "/", "'", "%", "\u202e", "😀", "é", "\x00", "\n", ":", "*", "+"])
        with_bad = st.builds(lambda a, b, c: a + b + c, st_patient_id(), bad, st.text(max_size=3))
        too_long = st_patient_id().map(lambda p: (p * 65)[:65])
        return st.one_of(not_text, st.just(""), with_bad, too_long)
    if field == "type":
        types = st.sampled_from(EVENT_TYPES)
        return st.one_of(
            not_text,
            odd_text.filter(lambda t: t not in EVENT_TYPES),
            types.map(str.upper),
            types.map(lambda t: t + "\u200b"),
        )
    if field == "occurred_on":
        return not_a_date
    return st.one_of(not_text.filter(lambda v: not isinstance(v, dict)), odd_text)  # data


def invalid_data_value(event_type: str, field: str, data: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the ``field`` of ``event_type``'s data refuses (all else being valid)."""
    objects = st.one_of(
        st.dictionaries(st.text(KEY_CHARS, max_size=6), nested, max_size=3), st.lists(st.just({}), min_size=1)
    )
    if field in NUMBERS:
        return st.one_of(objects, st.sampled_from(NUMBERS_AS_TEXT), st.booleans(),
                         st.sampled_from([NAN, INF, NINF]), st.sampled_from(OUT_OF_RANGE[field]))  # fmt: skip
    if field in BOOLEANS:
        return st.one_of(objects, st.sampled_from(["true", "false", "yes", 1, 0, 1.0, "", NAN]))
    if field == "sites":
        not_texts = st.lists(st.integers() | st.none(), min_size=1, max_size=3)
        return st.one_of(objects, odd_text, st.integers(), not_texts)
    if field in FREE_TEXT:
        wrong = st.one_of(objects, st.integers(), st.booleans(), st.sampled_from([NAN, INF]))
        if field == "decision":
            return wrong | st.integers(501, 5_000).map(lambda n: "é" * n)
        return wrong
    # an enumeration (or a time zone): any text it refuses, or not text at all
    refused = odd_text.filter(lambda text: not accepts(event_type, data, field, text))
    return st.one_of(objects, st.integers(), st.booleans(), refused)


def accepts(event_type: str, data: dict[str, Any], field: str, value: object) -> bool:
    try:
        DATA_MODELS[event_type].model_validate({**data, field: value})
    except ValidationError:
        return False
    return True


@st.composite
def st_junk(draw: st.DrawFn, *, on_receipt: bool = True) -> Junk:
    """One event with exactly one thing wrong. ``on_receipt``: also dates after AS_OF (refused by
    the API and ``submit`` only; ``plan`` ignores them)."""
    event_id = "junk-" + draw(st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=16))
    event = draw(st_event(patient_id=None, max_date=AS_OF, event_id=event_id))
    obj: dict[str, Any] = event.to_json()
    data: dict[str, Any] = obj["data"]
    model = DATA_MODELS[obj["type"]]
    ascii_only = draw(st.booleans())
    kind = draw(
        st.sampled_from(
            [
                "top_value",
                "top_missing",
                "top_extra",
                "top_duplicate",
                "data_value",
                "data_missing",
                "data_extra",
            ]
        )
    )
    if kind == "data_value" and not data:
        kind = "data_extra"
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    if obj["type"] == "lab_result" and data["test"] in ULN_REQUIRED_TESTS:
        required.append("uln")
    if kind == "data_missing" and not required:
        kind = "top_missing"

    if kind == "top_value":
        key = draw(st.sampled_from(TOP_KEYS))
        values = invalid_text_for(key)
        if key == "occurred_on" and on_receipt:
            values = values | st.sampled_from(AFTER_RECEIPT)
        value = draw(values)
        obj[key] = value
        return Junk(dumps(obj, ascii_only), key, None if has_literal(value) else key)
    if kind == "top_missing":
        key = draw(st.sampled_from(TOP_KEYS))
        del obj[key]
        return Junk(dumps(obj, ascii_only), key, key)
    if kind == "top_extra":
        key = draw(st.text(KEY_CHARS, min_size=1, max_size=20).filter(lambda k: k not in TOP_KEYS))
        value = draw(nested)
        obj[key] = value
        return Junk(dumps(obj, ascii_only), key, None if has_literal(value) else key)
    if kind == "top_duplicate":  # the same key again, last: JSON parsers keep the last value
        key = draw(st.sampled_from(TOP_KEYS))
        value = draw(invalid_text_for(key))
        text = dumps(obj, ascii_only)[:-1] + f", {dumps(key, ascii_only)}: {dumps(value, ascii_only)}}}"
        return Junk(text, key, None if has_literal(value) else key)
    if kind == "data_value":
        name = draw(st.sampled_from(sorted(data)))
        value = draw(invalid_data_value(obj["type"], name, data))
        data[name] = value
        return Junk(dumps(obj, ascii_only), f"data.{name}", None if has_literal(value) else f"data.{name}")
    if kind == "data_missing":
        name = draw(st.sampled_from(required))
        del data[name]
        return Junk(dumps(obj, ascii_only), f"data.{name}", f"data.{name}")
    name = draw(st.text(KEY_CHARS, min_size=1, max_size=20).filter(lambda k: k not in model.model_fields))
    value = draw(nested)
    data[name] = value
    return Junk(dumps(obj, ascii_only), f"data.{name}", None if has_literal(value) else f"data.{name}")


def valid_line(patient_id: str = PATIENT, occurred_on: str = "2026-11-20") -> dict[str, Any]:
    return {
        "event_id": f"valid-{uuid.uuid4().hex}", "patient_id": patient_id, "type": "visit",
        "occurred_on": occurred_on, "data": {"kind": "clinic_visit"},
    }  # fmt: skip


# What an error shows in place of a field path holding characters that would split the line or
# drive a terminal (C0/C1 controls, DEL, line and paragraph separators, lone surrogates): the
# path's Python ``ascii()`` form, quoted.
UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
QUOTED_PATH = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"): """)


def names(message: str, field: str | None) -> bool:
    """Does an error message (after "line N: ") name ``field`` (None: invalid JSON)? A path with
    unshowable characters (in ``field`` or below it) must be shown quoted and escaped, never raw."""
    if field is None:
        return message.startswith("not valid JSON")
    if not UNSHOWABLE.search(field) and message.startswith(field):
        return message[len(field) : len(field) + 1] in (":", "[", ".")
    quoted = QUOTED_PATH.match(message)
    if quoted is None or UNSHOWABLE.search(quoted.group(1)):
        return False
    path = ast.literal_eval(quoted.group(1))
    return (
        isinstance(path, str)
        and UNSHOWABLE.search(path) is not None
        and path.startswith(field)
        and path[len(field) : len(field) + 1] in ("", "[", ".")
    )


SWEEP = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


SCALE = int(os.environ.get("GIST_TEST_SWEEP_SCALE", "1"))  # e.g. 20 for a long exploratory sweep


def sweep(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A sweep: Hypothesis settings with bounded examples and no deadline (subprocesses, a loaded
    host), marked ``slow``."""

    def apply(test: Callable[..., None]) -> Callable[..., None]:
        return pytest.mark.slow(settings(SWEEP, max_examples=examples * SCALE)(test))

    return apply


# ---- the API -----------------------------------------------------------------------------------------


@sweep(60)
@given(junk=st.lists(st_junk(), min_size=1, max_size=6), companion=st.integers(0, 6), as_list=st.booleans())
def test_api_refuses_generated_junk_with_422_naming_each_field(
    store: Store, junk: list[Junk], companion: int, as_list: bool
) -> None:
    """One or more junk events (with a valid one among them, sometimes) → 422, each junk item named
    by its position and field, nothing stored (all or nothing)."""
    texts = [j.text for j in junk]
    fields = {position: j.field for position, j in enumerate(junk, start=1)}
    if companion < len(junk):  # a valid event at that position: it is not stored either
        texts.insert(companion, json.dumps(valid_line()))
        fields = {(p + 1 if p > companion else p): f for p, f in fields.items()}
    body = texts[0] if len(texts) == 1 and not as_list else "[" + ", ".join(texts) + "]"
    before = store.counts()
    response = store.post(body.encode("utf-8"))
    assert response.status_code == 422, (response.status_code, response.text[:500], body[:500])
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (0, 0)
    rejected = {item["line"]: item["error"] for item in answer["rejected"]}
    assert sorted(rejected) == sorted(fields), (answer, body[:500])
    for position, field in fields.items():
        prefix = f"line {position}: "
        assert rejected[position].startswith(prefix)
        assert names(rejected[position].removeprefix(prefix), field), (field, rejected[position])
    assert store.counts() == before


@pytest.mark.parametrize(
    "body",
    [b"", b" ", b"{", b"[", b"]", b"null", b"true", b"0", b"-0", b"1e999", b"NaN", b"Infinity", b'"event"',
     b"[]", b"{}", b"[null]", b"[[]]", b"[{}, 1]", b'{"event_id": "x"', b"\xff\xfe{}", b"\xef\xbb\xbf{}",
     b"{\x00}", b'{"a": "\\ud800\\udc00"}', b"[" * 100 + b"]" * 100, b'{"event_id": "a", "event_id": "b"}'],
)  # fmt: skip
def test_api_refuses_junk_bodies_with_422(store: Store, body: bytes) -> None:
    before = store.counts()
    response = store.post(body)
    assert response.status_code == 422, (response.status_code, response.text[:300])
    answer = response.json()
    assert answer["accepted"] == 0
    assert answer["rejected"]
    for item in answer["rejected"]:
        assert re.match(r"(line \d+: )?[\w.\[\]]+: ", item["error"]), item
    assert store.counts() == before


def test_api_enforces_the_size_limits(store: Store) -> None:
    before = store.counts()
    line = json.dumps(valid_line()).encode()
    ten_mb = b"[" + b", ".join([line] * (10 * MB // len(line))) + b"]"
    assert len(ten_mb) > 10 * MB - len(line)
    response = store.post(ten_mb)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("body: ")
    just_over = b"[" + b" " * (5 * MB - 1) + b"]"
    assert store.post(just_over).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(10):
            yield b" " * MB

    headers = {"Authorization": f"Bearer {store.token}", "content-type": "application/json"}
    assert store.client.post("/api/events", content=chunks(), headers=headers).status_code == 413
    just_under = b"[" + b" " * (5 * MB - 3) + b"]"
    assert len(just_under) == 5 * MB - 1
    assert store.post(just_under).status_code == 422  # read and judged: an empty list
    too_many = json.dumps([valid_line() for _ in range(5001)]).encode()
    answer = store.post(too_many)
    assert answer.status_code == 422
    assert "at most 5000 events" in answer.json()["rejected"][0]["error"]
    assert store.counts() == before


def test_api_reads_extreme_dates_and_duplicate_keys_consistently(store: Store) -> None:
    before = store.counts()
    for day, field_named in (("9999-12-31", True), ("2026-11-28", True), ("0001-01-01", True),
                             ("2026-02-30", True), ("1900-01-01", False)):  # fmt: skip
        response = store.post(json.dumps(valid_line(occurred_on=day)).encode())
        if field_named:
            assert response.status_code == 422
            assert response.json()["rejected"][0]["error"].startswith("line 1: occurred_on: ")
        else:
            assert response.status_code == 202
    first, last = f"dup-first-{uuid.uuid4().hex}", f"dup-last-{uuid.uuid4().hex}"
    text = json.dumps(valid_line())[:-1] + f', "event_id": "{last}"}}'
    text = text.replace('"event_id": "valid-', f'"event_id": "{first}", "x-": "', 1)  # a junk key
    assert store.post(text.encode()).status_code == 422  # unknown key "x-": refused whole
    duplicate = json.dumps(valid_line())[:-1] + f', "event_id": "{last}"}}'
    assert store.post(duplicate.encode()).status_code == 202  # the last value of a key counts
    with store.db.sessions() as session:
        stored = session.scalars(select(EventRow.event_id).where(EventRow.event_id.like("dup-%"))).all()
    assert stored == [last]
    assert store.counts() == (before[0] + 2, before[1])


# ---- the command line ------------------------------------------------------------------------------------


def run_cli(store_or_env: Store | dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = store_or_env.env() if isinstance(store_or_env, Store) else store_or_env
    return gistsched(*args, env=env, timeout=180)


def assert_refused_lines(
    result: subprocess.CompletedProcess[str], path: Path, fields: dict[int, str | None]
) -> None:
    """Exit 2, no traceback, exactly one stderr line per refused line, in order, each naming its
    line and field."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.rstrip("\n").split("\n")
    assert len(lines) == len(fields), (lines, fields)
    for line, (number, field) in zip(lines, sorted(fields.items()), strict=True):
        prefix = f"{path}: line {number}: "
        assert line.startswith(prefix), (line, prefix)
        assert names(line.removeprefix(prefix), field), (field, line)


def junk_file(path: Path, junk: list[Junk], valid: list[str], *, plan: bool) -> dict[int, str | None]:
    """Write ``valid`` lines and the junk lines interleaved; the fields each refused line must name."""
    lines: list[str] = []
    fields: dict[int, str | None] = {}
    valid_left = list(valid)
    for item in junk:
        if valid_left:
            lines.append(valid_left.pop())
        lines.append(item.text)
        fields[len(lines)] = item.plan_field if plan else item.field
    lines += valid_left
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return fields


COHORT_LINES = [json.dumps(obj) for obj in read_cohort()[:6]]


@sweep(10)
@given(junk=st.lists(st_junk(on_receipt=False), min_size=1, max_size=8))
def test_plan_refuses_generated_junk_lines(
    junk: list[Junk], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("plan") / "events.jsonl"
    fields = junk_file(path, junk, COHORT_LINES, plan=True)
    result = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", path.parent))
    assert_refused_lines(result, path, fields)
    assert result.stdout == ""


@sweep(4)
@given(junk=st.lists(st_junk(), min_size=1, max_size=8))
def test_submit_refuses_generated_junk_lines_and_stores_the_rest(store: Store, junk: list[Junk]) -> None:
    path = store.folder / f"submit-{uuid.uuid4().hex[:8]}.jsonl"
    companion = json.dumps(valid_line())
    fields = junk_file(path, junk, [companion], plan=False)
    before = store.counts()
    result = run_cli(store, "submit", str(path))
    assert_refused_lines(result, path, fields)
    answer = json.loads(result.stdout)
    assert (answer["accepted"], answer["duplicates"]) == (1, 0)  # the valid line is stored
    assert [r["line"] for r in answer["rejected"]] == sorted(fields)
    assert store.counts() == (before[0] + 1, before[1])


def test_plan_reads_extreme_dates_as_the_contract_says(tmp_path: Path) -> None:
    """``plan`` applies no receipt check: far-future events are ignored, not refused; impossible
    and pre-1900 dates are refused naming occurred_on."""
    later = [valid_line("Pfuture", "9999-12-31"), valid_line("Pfuture", "2026-11-28")]
    path = tmp_path / "later.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in [*read_cohort()[:3], *later]), encoding="utf-8")
    ok = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "Pfuture" not in ok.stdout  # no event on or before --as-of: left out
    bad = [valid_line(occurred_on=day) for day in ("0001-01-01", "2026-02-30", "1899-12-31", "10000-01-01")]
    path.write_text("".join(json.dumps(o) + "\n" for o in bad), encoding="utf-8")
    refused = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", tmp_path))
    assert_refused_lines(refused, path, dict.fromkeys(range(1, 5), "occurred_on"))
    for as_of in ("0001-01-01", "9999-12-31", "2026-02-30", "NaN"):
        result = gistsched("plan", str(path), "--as-of", as_of, env=cli_env("sqlite://", tmp_path))
        assert result.returncode == 2
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("--as-of: ")


def test_plan_refuses_a_10_mb_line_and_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    huge = valid_line() | {"event_id": "x" * (10 * MB)}
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(json.dumps(huge) + "\n" + deep + "\n" + "9" * 5000 + "\n", encoding="utf-8")
    result = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", tmp_path))
    assert_refused_lines(result, path, {1: "event_id", 2: None, 3: None})
    assert result.stdout == ""


# ---- the dashboard -----------------------------------------------------------------------------------


@dataclass
class Dashboard:
    client: TestClient
    csrf: str


@pytest.fixture(scope="module")
def dashboard(store: Store) -> Dashboard:
    """cleo signed in on the store's app (the API client's cookie jar)."""
    client = store.client
    response = client.post("/login", data={"username": "cleo", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert found
    return Dashboard(client, found.group(1))


form_text = st.one_of(
    st.text(FORM_CHARS, max_size=30),
    st.lists(st.sampled_from(ODD), min_size=1, max_size=6).map("".join),
    st.sampled_from(["", " ", "0", "-1", "1e999", "NaN", "inf", "-0", "0x10", "１２", "12,5", "1_000",
                     "2026-02-30", "0001-01-01", "9999-12-31", "2026-11-27", "<script>alert(1)</script>",
                     "' OR 1=1 --"]),
    st.text("0123456789", min_size=1, max_size=50),
    huge_text,
)  # fmt: skip


@st.composite
def st_form(draw: st.DrawFn) -> dict[str, str]:
    form = draw(st.sampled_from(FORMS))
    values = {"form": form.name, "occurred_on": draw(form_text | st.dates(max_value=AS_OF).map(str))}
    for field in form.fields:
        choices = [value for value, _ in field.choices]
        values[field.name] = draw(form_text | st.sampled_from(choices) if choices else form_text)
    if draw(st.booleans()):
        values["form"] = draw(st.sampled_from([form.name, "", "biopsy", "\x00", "lab "]))
    return values


@sweep(40)
@given(form=st_form())
def test_dashboard_event_form_refuses_junk_with_422(
    store: Store, dashboard: Dashboard, form: dict[str, str]
) -> None:
    before = store.counts()
    response = dashboard.client.post(
        f"/patients/{PATIENT}/events", data={"csrf_token": dashboard.csrf, **form}, follow_redirects=False
    )
    assert response.status_code in (303, 422), (response.status_code, form)
    assert "<script>alert(1)" not in response.text  # echoed values are escaped
    expected = (before[0] + 1, before[1]) if response.status_code == 303 else before
    assert store.counts() == expected


@pytest.mark.parametrize(
    ("username", "password"),
    [("u" * 100_000, PASSWORD), ("cleo", "p" * (MB - 100)), ("\u202e" * 10_000, "😀" * 100_000),
     ("u" * (2 * MB), "x"), ("cleo", "p" * (10 * MB)), ("", ""), ("cleo\x00", PASSWORD)],
    ids=["100k-username", "1mb-password", "unicode", "2mb-username", "10mb-password", "empty", "nul"],
)  # fmt: skip
def test_sign_in_with_huge_inputs_is_a_4xx_without_a_session(
    store: Store, username: str, password: str
) -> None:
    audits = store.db.count(AuditRow)
    with TestClient(store.client.app, raise_server_exceptions=False) as client:
        response = client.post(
            "/login", data={"username": username, "password": password}, follow_redirects=False
        )
    assert 400 <= response.status_code < 500, response.status_code
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert store.db.count(AuditRow) <= audits + 1
    with store.db.sessions() as session:
        longest = session.scalar(select(func.max(func.length(AuditRow.username))))
    assert longest is None or longest <= 64


# ---- regression tests: the bugs this suite found (docs/security.md §9), each pinned to its answer ---------

SURROGATE_EVENT = (
    '{"event_id": "sur-\\ud800", "patient_id": "P05", "type": "visit", "occurred_on": "2026-11-20", '
    '"data": {"kind": "clinic_visit"}}'
)


def assert_refused(store: Store, response: Any, field: str, before: tuple[int, int]) -> None:
    """422 naming ``field`` on line 1, and nothing stored."""
    assert response.status_code == 422, (response.status_code, response.text[:300])
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (0, 0)
    error = answer["rejected"][0]["error"]
    assert error.startswith("line 1: "), error
    assert names(error.removeprefix("line 1: "), field), error
    assert store.counts() == before


def test_api_lone_surrogate_in_event_id_is_not_a_500(store: Store) -> None:
    before = store.counts()
    assert_refused(store, store.post(SURROGATE_EVENT.encode()), "event_id", before)


def test_api_lone_surrogate_in_a_name_does_not_poison_processing(store: Store) -> None:
    """Refused on receipt (422 naming data.name): it never reaches a recompute."""
    patient = f"SUR{uuid.uuid4().hex[:6]}"
    body = (
        f'{{"event_id": "{patient}-reg", "patient_id": "{patient}", "type": "patient_registered", '
        '"occurred_on": "2026-11-20", "data": {"name": "Ana \\udc00"}}'
    )
    before = store.counts()
    assert_refused(store, store.post(body.encode()), "data.name", before)
    with store.db.sessions() as session:
        assert session.get(PatientRow, patient) is None


def test_plan_lone_surrogate_in_an_event_id_is_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "surrogate.jsonl"
    path.write_text(
        '{"event_id": "d1", "patient_id": "P1", "type": "diagnosis", "occurred_on": "2026-01-01", '
        '"data": {"site": "stomach", "size_cm": 8, "metastatic": true}}\n'
        '{"event_id": "t1", "patient_id": "P1", "type": "therapy_started", "occurred_on": "2026-01-10", '
        '"data": {"drug": "imatinib", "dose_mg": 400, "setting": "advanced"}}\n'
        '{"event_id": "ct-\\ud800", "patient_id": "P1", "type": "imaging", "occurred_on": "2026-04-10", '
        '"data": {"modality": "ct", "result": "stable"}}\n',
        encoding="utf-8",
    )
    result = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", tmp_path))
    assert_refused_lines(result, path, {3: "event_id"})
    assert result.stdout == ""


HOSTILE_LINES = {
    "surrogate": SURROGATE_EVENT,
    "deep-nesting": "[" * 100_000 + "]" * 100_000,
    "huge-integer": json.dumps(valid_line())[:-2] + ', "x": ' + "9" * 5000 + "}}",
    "line-separator": json.dumps(
        valid_line() | {"type": "mdt_review", "data": {"decision": "a\u2028b"}}, ensure_ascii=False
    ),
}
# The field each refused hostile line must name (None: not valid JSON); the line separator is legal
# inside a JSON string, so that line is stored.
HOSTILE_REFUSED: dict[str, str | None] = {"surrogate": "event_id", "deep-nesting": None, "huge-integer": None}


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", sorted(HOSTILE_LINES))
def test_submit_survives_hostile_json_text(store: Store, tmp_path: Path, case: str) -> None:
    """One line of hostile JSON text between two valid lines: refused (line 2 named, exit 2, the
    other two stored) or, for a raw U+2028 inside a string, stored (exit 0, all three) — never a
    traceback, and the line numbers stay right."""
    path = tmp_path / f"{case}.jsonl"
    lines = [json.dumps(valid_line()), HOSTILE_LINES[case], json.dumps(valid_line()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    before = store.counts()
    result = run_cli(store, "submit", str(path))
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    if case in HOSTILE_REFUSED:
        assert_refused_lines(result, path, {2: HOSTILE_REFUSED[case]})
        assert store.counts() == (before[0] + 2, before[1])
    else:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"accepted": 3, "duplicates": 0, "rejected": []}
        assert store.counts() == (before[0] + 3, before[1])


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a": ' + "9" * 5000 + "}"],
                         ids=["deep-nesting", "huge-integer"])  # fmt: skip
def test_api_hostile_json_text_is_a_422(store: Store, body: str) -> None:
    before = store.counts()
    response = store.post(body.encode())
    assert response.status_code == 422, response.status_code
    assert response.json()["rejected"][0]["error"].startswith("body: ")
    assert store.counts() == before


def test_dashboard_number_over_4300_digits_is_a_422(store: Store, dashboard: Dashboard) -> None:
    before = store.counts()
    response = dashboard.client.post(
        f"/patients/{PATIENT}/events",
        data={"csrf_token": dashboard.csrf, "form": "lab", "occurred_on": "2026-11-20", "test": "tsh",
              "value": "9" * 5000},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 422, response.status_code
    assert store.counts() == before


@pytest.mark.parametrize("alert_id", ["99999999999999999999", "-99999999999999999999", "9223372036854775808"])
def test_alert_ids_beyond_64_bits_are_a_422_not_a_500(
    store: Store, dashboard: Dashboard, alert_id: str
) -> None:
    """Ids in URLs are bounded to 64 bits: beyond, the API and the dashboard answer 422."""
    api = store.client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={"note": "seen"},
        headers={"Authorization": f"Bearer {store.token}"},
    )  # fmt: skip
    page = dashboard.client.post(
        f"/alerts/{alert_id}/acknowledge", data={"csrf_token": dashboard.csrf, "note": "seen"},
        follow_redirects=False,
    )  # fmt: skip
    assert (api.status_code, page.status_code) == (422, 422), (api.text[:300], page.text[:300])


def test_nul_in_an_event_id_is_refused(store: Store) -> None:
    """NUL is no text (and PostgreSQL text cannot hold it): 422 naming event_id on both backends."""
    event = valid_line() | {"event_id": f"nul-{uuid.uuid4().hex[:8]}\x00"}
    before = store.counts()
    assert_refused(store, store.post(json.dumps(event).encode()), "event_id", before)


def test_submit_nul_in_an_event_id_is_not_a_traceback(store: Store) -> None:
    event = valid_line() | {"event_id": f"nul-{uuid.uuid4().hex[:8]}\x00"}
    path = store.folder / f"nul-{uuid.uuid4().hex[:8]}.jsonl"
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    before = store.counts()
    result = run_cli(store, "submit", str(path))
    assert_refused_lines(result, path, {1: "event_id"})
    assert store.counts() == before


def test_cli_errors_stay_one_plain_line_per_refused_line(tmp_path: Path) -> None:
    """An unknown key with a newline or a terminal escape in it is shown escaped: one stderr line
    per refused line, each naming its key, nothing for a terminal to obey."""
    path = tmp_path / "keys.jsonl"
    path.write_text(
        json.dumps(valid_line() | {"x\ny": 1}) + "\n"
        + json.dumps(valid_line() | {"data": {"kind": "clinic_visit", "\x1b[2Jk": 1}}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    result = gistsched("plan", str(path), "--as-of", AS_OF.isoformat(), env=cli_env("sqlite://", tmp_path))
    assert_refused_lines(result, path, {1: "x\ny", 2: "data.\x1b[2Jk"})
    assert not any(ch in result.stderr for ch in "\x1b\r\x07"), result.stderr

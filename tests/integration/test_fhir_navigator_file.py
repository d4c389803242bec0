"""The practitioner → navigator file of the FHIR shells (JSON or CSV): read, checked, and refused
with one line naming the file, the row and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config.settings import Settings
from scheduler.patients.fhir_navigators import NavigatorFileError, load_navigators

pytestmark = pytest.mark.integration

NPI = "http://hl7.org/fhir/sid/us-npi"
EXPECTED = {(NPI, "1111111111"): "nav-ana", ("urn:ehr:staff", "42"): "nav-ben"}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_json_table_is_read() -> None:
    path = Path(__file__).parent.parent / "fixtures" / "fhir" / "navigators.json"
    assert load_navigators(path).table == EXPECTED


def test_a_csv_table_is_read_with_comments_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "\ufeffsystem,value,navigator_id\n# the EHR's NPIs\n\n"
        f"{NPI},1111111111,nav-ana\n urn:ehr:staff , 42 , nav-ben \n"
    )
    assert load_navigators(write(tmp_path, "nav.csv", text)).table == EXPECTED


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        pytest.param("nav.json", '[{"system": "s", "value": "1", "navigator_id": "nav-ana"},\n'
                     ' {"system": "s", "value": "2", "navigator_id": "nav-zed"},\n'
                     ' {"system": "s", "value": "3", "navigator_id": "nav-zed"}]',
                     "[1].navigator_id", id="json"),
        pytest.param("nav.csv", "system,value,navigator_id\ns,1,nav-ana\n# gone\ns,2,nav-zed\ns,3,nav-zed\n",
                     "line 4 navigator_id", id="csv"),
    ],
)  # fmt: skip
def test_a_navigator_without_an_account_is_named_with_its_file_and_first_row(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = write(tmp_path, name, text)
    assert load_navigators(path).without_account(["nav-ana", "nav-ben"]) == [
        f"{path}: {where}: 'nav-zed' is not an active navigator account; CareTeams naming it are left "
        "for review"
    ]
    assert load_navigators(path).without_account(["nav-ana", "nav-zed"]) == []


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        pytest.param("nav.txt", "[]", "nav.txt: a navigator table is a .json or .csv file", id="suffix"),
        pytest.param("nav.json", '[{"system": "s",\n "value": }]',
                     "nav.json: line 2 column 11: not valid JSON", id="json-syntax"),
        pytest.param("nav.json", '{"s": "v"}', "nav.json: the file: must be a list", id="json-not-a-list"),
        pytest.param("nav.json", '[{"system": "s", "value": "v", "navigator_id": "nav ana"}]',
                     "nav.json: [0].navigator_id: must be 1-64 letters", id="json-bad-navigator"),
        pytest.param("nav.json", '[{"system": "s", "value": "v", "navigator_id": "a"}, {"system": "s"}]',
                     "nav.json: [1].value: must be a non-empty string", id="json-missing-value"),
        pytest.param("nav.json", '[{"system": "s", "value": "v", "navigator_id": "a", "name": "x"}]',
                     "nav.json: [0].name: unknown field", id="json-unknown-field"),
        pytest.param("nav.json", '[{"system": "s", "value": "v", "navigator_id": "a"},'
                     ' {"system": "s", "value": "v", "navigator_id": "b"}]',
                     "nav.json: [1].value: practitioner s|v is listed twice", id="json-twice"),
        pytest.param("nav.json", b"\xff[]", "nav.json: not UTF-8 text", id="not-utf8"),
        pytest.param("nav.csv", "", "nav.csv: empty (expected the header system,value,navigator_id)",
                     id="csv-empty"),
        pytest.param("nav.csv", "npi,navigator\nx,y\n", "nav.csv: line 1: the header must be",
                     id="csv-header"),
        pytest.param("nav.csv", "system,value,navigator_id\ns,v,nav-a\ns,w\n",
                     "nav.csv: line 3: 2 fields, expected 3", id="csv-short-line"),
        pytest.param("nav.csv", "system,value,navigator_id\n\ns,v,nav a\n",
                     "nav.csv: line 3 navigator_id: must be 1-64 letters", id="csv-bad-navigator"),
        pytest.param("nav.csv", "system,value,navigator_id\ns,,nav-a\n",
                     "nav.csv: line 2 value: must be a non-empty string", id="csv-empty-value"),
        pytest.param("nav.csv", "system,value,navigator_id\ns,v,a\n#\ns,v,b\n",
                     "nav.csv: line 4 value: practitioner s|v is listed twice", id="csv-twice"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_file_row_and_field(
    tmp_path: Path, name: str, text: str | bytes, needle: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(NavigatorFileError) as refused:
        load_navigators(path)
    assert needle in str(refused.value)
    assert str(tmp_path) in str(refused.value)  # the file is named in full


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NavigatorFileError, match=r"missing\.csv: cannot read it \(No such file"):
        load_navigators(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, None, id="unset"),
        pytest.param({"GIST_FHIR_NAVIGATORS": ""}, None, id="empty"),
        pytest.param({"GIST_FHIR_NAVIGATORS": "/etc/gist/nav.csv"}, Path("/etc/gist/nav.csv"), id="path"),
    ],
)
def test_the_setting_is_a_path(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: Path | None
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings(env="test").fhir_navigators == expected

"""Risk (clinical-rules.md §2): every band boundary, every site, rupture, every AFIP cell.

Expected values are written out by hand from the spec's tables, never computed with the code under
test, so a wrong table or a wrong comparison shows up as a failing row with a readable id.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.risk import assess_risk, explain, size_band
from scheduler.domain.risk_tables import (
    AFIP,
    AFIP_COLUMN_BY_SITE,
    AFIP_TABLE,
    GASTRIC_SITES,
    NIH_MODIFIED,
    NIH_ROWS,
)

CONTRACT_SITES = [
    "stomach",
    "duodenum",
    "jejunum_ileum",
    "rectum",
    "colon",
    "esophagus",
    "mesentery",
    "omentum",
    "peritoneum",
    "other",
]
NO_AFIP_SITES = ["colon", "esophagus", "mesentery", "omentum", "peritoneum", "other"]


Inputs = tuple[float | None, int | None, str | None, bool]  # size, mitoses, site, ruptured
Expected = tuple[str | None, str | None, str | None, float | None, str | None]  # tier, row, group, %, column


def _case(inputs: Inputs, expected: Expected) -> object:
    """One table row; the id names the inputs so a failure reads like a clinical sentence."""
    size, mitoses, site, ruptured = inputs
    ident = f"{site or 'unknown-site'}-{size}cm-{mitoses}mit" + ("-ruptured" if ruptured else "")
    return pytest.param(inputs, expected, id=ident)


# Size boundaries 2.0/2.1, 5.0/5.1, 10.0/10.1 × mitoses boundaries 5/6, 10/11, gastric and not.
BOUNDARY_CASES = [
    # stomach (gastric)
    _case((2.0, 5, "stomach", False), ("very_low", "nih.11", "1", 0.0, "stomach")),
    _case((2.0, 6, "stomach", False), ("intermediate", "nih.8", "4", 0.0, "stomach")),
    _case((2.0, 10, "stomach", False), ("intermediate", "nih.8", "4", 0.0, "stomach")),
    _case((2.0, 11, "stomach", False), ("high", "nih.3", "4", 0.0, "stomach")),
    _case((2.1, 5, "stomach", False), ("low", "nih.10", "2", 1.9, "stomach")),
    _case((2.1, 6, "stomach", False), ("intermediate", "nih.7", "5", 16.0, "stomach")),
    _case((2.1, 10, "stomach", False), ("intermediate", "nih.7", "5", 16.0, "stomach")),
    _case((2.1, 11, "stomach", False), ("high", "nih.3", "5", 16.0, "stomach")),
    _case((5.0, 5, "stomach", False), ("low", "nih.10", "2", 1.9, "stomach")),
    _case((5.0, 6, "stomach", False), ("intermediate", "nih.7", "5", 16.0, "stomach")),
    _case((5.0, 10, "stomach", False), ("intermediate", "nih.7", "5", 16.0, "stomach")),
    _case((5.0, 11, "stomach", False), ("high", "nih.3", "5", 16.0, "stomach")),
    _case((5.1, 5, "stomach", False), ("intermediate", "nih.9", "3a", 3.6, "stomach")),
    _case((5.1, 6, "stomach", False), ("high", "nih.4", "6a", 55.0, "stomach")),
    _case((5.1, 10, "stomach", False), ("high", "nih.4", "6a", 55.0, "stomach")),
    _case((5.1, 11, "stomach", False), ("high", "nih.3", "6a", 55.0, "stomach")),
    _case((10.0, 5, "stomach", False), ("intermediate", "nih.9", "3a", 3.6, "stomach")),
    _case((10.0, 6, "stomach", False), ("high", "nih.4", "6a", 55.0, "stomach")),
    _case((10.0, 10, "stomach", False), ("high", "nih.4", "6a", 55.0, "stomach")),
    _case((10.0, 11, "stomach", False), ("high", "nih.3", "6a", 55.0, "stomach")),
    _case((10.1, 5, "stomach", False), ("high", "nih.2", "3b", 12.0, "stomach")),
    _case((10.1, 6, "stomach", False), ("high", "nih.2", "6b", 86.0, "stomach")),
    _case((10.1, 10, "stomach", False), ("high", "nih.2", "6b", 86.0, "stomach")),
    _case((10.1, 11, "stomach", False), ("high", "nih.2", "6b", 86.0, "stomach")),
    # jejunum/ileum (non-gastric)
    _case((2.0, 5, "jejunum_ileum", False), ("very_low", "nih.11", "1", 0.0, "jejunum_ileum")),
    _case((2.0, 6, "jejunum_ileum", False), ("intermediate", "nih.8", "4", 50.0, "jejunum_ileum")),
    _case((2.0, 10, "jejunum_ileum", False), ("intermediate", "nih.8", "4", 50.0, "jejunum_ileum")),
    _case((2.0, 11, "jejunum_ileum", False), ("high", "nih.3", "4", 50.0, "jejunum_ileum")),
    _case((2.1, 5, "jejunum_ileum", False), ("low", "nih.10", "2", 4.3, "jejunum_ileum")),
    _case((2.1, 6, "jejunum_ileum", False), ("high", "nih.5", "5", 73.0, "jejunum_ileum")),
    _case((2.1, 10, "jejunum_ileum", False), ("high", "nih.5", "5", 73.0, "jejunum_ileum")),
    _case((2.1, 11, "jejunum_ileum", False), ("high", "nih.3", "5", 73.0, "jejunum_ileum")),
    _case((5.0, 5, "jejunum_ileum", False), ("low", "nih.10", "2", 4.3, "jejunum_ileum")),
    _case((5.0, 6, "jejunum_ileum", False), ("high", "nih.5", "5", 73.0, "jejunum_ileum")),
    _case((5.0, 10, "jejunum_ileum", False), ("high", "nih.5", "5", 73.0, "jejunum_ileum")),
    _case((5.0, 11, "jejunum_ileum", False), ("high", "nih.3", "5", 73.0, "jejunum_ileum")),
    _case((5.1, 5, "jejunum_ileum", False), ("high", "nih.6", "3a", 24.0, "jejunum_ileum")),
    _case((5.1, 6, "jejunum_ileum", False), ("high", "nih.4", "6a", 85.0, "jejunum_ileum")),
    _case((5.1, 10, "jejunum_ileum", False), ("high", "nih.4", "6a", 85.0, "jejunum_ileum")),
    _case((5.1, 11, "jejunum_ileum", False), ("high", "nih.3", "6a", 85.0, "jejunum_ileum")),
    _case((10.0, 5, "jejunum_ileum", False), ("high", "nih.6", "3a", 24.0, "jejunum_ileum")),
    _case((10.0, 6, "jejunum_ileum", False), ("high", "nih.4", "6a", 85.0, "jejunum_ileum")),
    _case((10.0, 10, "jejunum_ileum", False), ("high", "nih.4", "6a", 85.0, "jejunum_ileum")),
    _case((10.0, 11, "jejunum_ileum", False), ("high", "nih.3", "6a", 85.0, "jejunum_ileum")),
    _case((10.1, 5, "jejunum_ileum", False), ("high", "nih.2", "3b", 52.0, "jejunum_ileum")),
    _case((10.1, 6, "jejunum_ileum", False), ("high", "nih.2", "6b", 90.0, "jejunum_ileum")),
    _case((10.1, 10, "jejunum_ileum", False), ("high", "nih.2", "6b", 90.0, "jejunum_ileum")),
    _case((10.1, 11, "jejunum_ileum", False), ("high", "nih.2", "6b", 90.0, "jejunum_ileum")),
    # extremes
    _case((0.1, 0, "stomach", False), ("very_low", "nih.11", "1", 0.0, "stomach")),
    _case((100.0, 0, "stomach", False), ("high", "nih.2", "3b", 12.0, "stomach")),
    _case((0.1, 1000, "stomach", False), ("high", "nih.3", "4", 0.0, "stomach")),
]

# Every contract site and an unknown one, for the tumours where the site decides the NIH tier
# (3 cm/7 mitoses: nih.5 vs nih.7; 7 cm/3 mitoses: nih.6 vs nih.9) and a tiny one where it does not.
SITE_CASES = [
    _case((3.0, 7, "stomach", False), ("intermediate", "nih.7", "5", 16.0, "stomach")),
    _case((3.0, 7, "duodenum", False), ("high", "nih.5", "5", 50.0, "duodenum")),
    _case((3.0, 7, "jejunum_ileum", False), ("high", "nih.5", "5", 73.0, "jejunum_ileum")),
    _case((3.0, 7, "rectum", False), ("high", "nih.5", "5", 52.0, "rectum")),
    _case((3.0, 7, "colon", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, "esophagus", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, "mesentery", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, "omentum", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, "peritoneum", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, "other", False), ("high", "nih.5", "5", None, None)),
    _case((3.0, 7, None, False), ("high", "nih.5", "5", None, None)),
    _case((7.0, 3, "stomach", False), ("intermediate", "nih.9", "3a", 3.6, "stomach")),
    _case((7.0, 3, "duodenum", False), ("high", "nih.6", "3a", None, "duodenum")),
    _case((7.0, 3, "jejunum_ileum", False), ("high", "nih.6", "3a", 24.0, "jejunum_ileum")),
    _case((7.0, 3, "rectum", False), ("high", "nih.6", "3a", None, "rectum")),
    _case((7.0, 3, "colon", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, "esophagus", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, "mesentery", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, "omentum", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, "peritoneum", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, "other", False), ("high", "nih.6", "3a", None, None)),
    _case((7.0, 3, None, False), ("high", "nih.6", "3a", None, None)),
    _case((1.5, 3, "stomach", False), ("very_low", "nih.11", "1", 0.0, "stomach")),
    _case((1.5, 3, "duodenum", False), ("very_low", "nih.11", "1", 0.0, "duodenum")),
    _case((1.5, 3, "jejunum_ileum", False), ("very_low", "nih.11", "1", 0.0, "jejunum_ileum")),
    _case((1.5, 3, "rectum", False), ("very_low", "nih.11", "1", 0.0, "rectum")),
    _case((1.5, 3, "colon", False), ("very_low", "nih.11", "1", None, None)),
    _case((1.5, 3, None, False), ("very_low", "nih.11", "1", None, None)),
]

# Rupture makes NIH high even with unknown size or mitoses, and never changes AFIP.
RUPTURE_CASES = [
    _case((None, None, "stomach", True), ("high", "nih.1", None, None, "stomach")),
    _case((None, 4, "colon", True), ("high", "nih.1", None, None, None)),
    _case((3.0, None, None, True), ("high", "nih.1", None, None, None)),
    _case((1.0, 2, "stomach", True), ("high", "nih.1", "1", 0.0, "stomach")),
    _case((7.0, 3, "jejunum_ileum", True), ("high", "nih.1", "3a", 24.0, "jejunum_ileum")),
    _case((12.0, 20, "rectum", True), ("high", "nih.1", "6b", 71.0, "rectum")),
    # not ruptured and not assessable yet
    _case((None, None, "stomach", False), (None, None, None, None, "stomach")),
    _case((3.0, None, "stomach", False), (None, None, None, None, "stomach")),
    _case((None, 4, "jejunum_ileum", False), (None, None, None, None, "jejunum_ileum")),
    _case((None, None, None, False), (None, None, None, None, None)),
]


@pytest.mark.parametrize(("inputs", "expected"), BOUNDARY_CASES + SITE_CASES + RUPTURE_CASES)
def test_assess_risk(inputs: Inputs, expected: Expected) -> None:
    size, mitoses, site, ruptured = inputs
    risk = assess_risk(size, mitoses, site, ruptured)
    actual = (risk.nih_modified, risk.nih_row, risk.afip_group, risk.afip_progression_pct, risk.afip_column)
    assert actual == expected
    assert (risk.size_cm, risk.mitoses_per_5mm2, risk.site, risk.ruptured) == inputs


# Every AFIP cell (group × column) plus a site without AFIP data, through assess_risk.
# Representative tumours: ≤2 → 1.0 cm, >2–5 → 3.0, >5–10 → 7.0, >10 → 15.0; mitoses 2 (≤5) or 8 (>5).
AFIP_CELLS: list[tuple[str, float, int, dict[str, float | None]]] = [
    ("1", 1.0, 2, {"stomach": 0.0, "jejunum_ileum": 0.0, "duodenum": 0.0, "rectum": 0.0}),
    ("2", 3.0, 2, {"stomach": 1.9, "jejunum_ileum": 4.3, "duodenum": 8.3, "rectum": 8.5}),
    ("3a", 7.0, 2, {"stomach": 3.6, "jejunum_ileum": 24.0, "duodenum": None, "rectum": None}),
    ("3b", 15.0, 2, {"stomach": 12.0, "jejunum_ileum": 52.0, "duodenum": 34.0, "rectum": 57.0}),
    ("4", 1.0, 8, {"stomach": 0.0, "jejunum_ileum": 50.0, "duodenum": None, "rectum": 54.0}),
    ("5", 3.0, 8, {"stomach": 16.0, "jejunum_ileum": 73.0, "duodenum": 50.0, "rectum": 52.0}),
    ("6a", 7.0, 8, {"stomach": 55.0, "jejunum_ileum": 85.0, "duodenum": None, "rectum": None}),
    ("6b", 15.0, 8, {"stomach": 86.0, "jejunum_ileum": 90.0, "duodenum": 86.0, "rectum": 71.0}),
]


@pytest.mark.parametrize(
    ("group", "size", "mitoses", "site", "pct"),
    [
        pytest.param(group, size, mitoses, site, pct, id=f"group{group}-{site}")
        for group, size, mitoses, cells in AFIP_CELLS
        for site, pct in [*cells.items(), ("colon", None)]
    ],
)
def test_afip_cell(group: str, size: float, mitoses: int, site: str, pct: float | None) -> None:
    risk = assess_risk(size, mitoses, site, ruptured=False)
    assert risk.afip_group == group
    assert risk.afip_progression_pct == pct
    assert risk.afip_column == (None if site == "colon" else site)


def test_afip_table_matches_spec() -> None:
    """The data itself, column by column as printed (duodenum and jejunum/ileum not swapped)."""
    assert {group: cells for group, _, _, cells in AFIP_CELLS} == AFIP_TABLE
    assert list(AFIP_TABLE) == ["1", "2", "3a", "3b", "4", "5", "6a", "6b"]


def test_nih_rows_in_published_order() -> None:
    assert [(r.id, r.tier) for r in NIH_ROWS] == [
        ("nih.1", "high"),
        ("nih.2", "high"),
        ("nih.3", "high"),
        ("nih.4", "high"),
        ("nih.5", "high"),
        ("nih.6", "high"),
        ("nih.7", "intermediate"),
        ("nih.8", "intermediate"),
        ("nih.9", "intermediate"),
        ("nih.10", "low"),
        ("nih.11", "very_low"),
    ]
    assert NIH_ROWS[4].description == "non-gastric, 2–5 cm, > 5 mitoses/5 mm² → high"
    assert NIH_ROWS[4].criteria == "non-gastric, 2–5 cm, > 5 mitoses/5 mm²"


def test_sites_and_schemes() -> None:
    assert frozenset({"stomach"}) == GASTRIC_SITES
    assert {
        "stomach": "stomach",
        "jejunum_ileum": "jejunum_ileum",
        "duodenum": "duodenum",
        "rectum": "rectum",
        **dict.fromkeys(NO_AFIP_SITES),
    } == AFIP_COLUMN_BY_SITE
    assert set(AFIP_COLUMN_BY_SITE) == set(CONTRACT_SITES)
    assert NIH_MODIFIED.rule_id == "risk.nih_modified"
    assert AFIP.rule_id == "risk.afip"
    assert "Joensuu H" in NIH_MODIFIED.citation
    assert "Hum Pathol 2008;39:1411" in NIH_MODIFIED.citation
    assert "Miettinen M, Lasota J" in AFIP.citation
    assert "Semin Diagn Pathol 2006;23:70" in AFIP.citation
    assert NIH_MODIFIED.rationale
    assert AFIP.rationale


@pytest.mark.parametrize(
    ("size", "band"),
    [
        pytest.param(0.1, "A", id="0.1cm"),
        pytest.param(2.0, "A", id="2.0cm-lower-band"),
        pytest.param(2.0000001, "B", id="just-over-2cm"),
        pytest.param(2.1, "B", id="2.1cm"),
        pytest.param(5.0, "B", id="5.0cm-lower-band"),
        pytest.param(5.1, "C", id="5.1cm"),
        pytest.param(10.0, "C", id="10.0cm-lower-band"),
        pytest.param(10.1, "D", id="10.1cm"),
        pytest.param(100.0, "D", id="100cm"),
    ],
)
def test_size_band(size: float, band: str) -> None:
    assert size_band(size) == band


def test_nan_is_rejected_not_banded() -> None:
    with pytest.raises(ValueError, match="size_cm"):
        size_band(math.nan)
    with pytest.raises(ValueError, match="size_cm"):
        assess_risk(math.nan, 3, "stomach", ruptured=False)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param(
            (3.0, 7, "jejunum_ileum", False),
            "high — nih.5: non-gastric, 2–5 cm, > 5 mitoses/5 mm² (Joensuu 2008); "
            "AFIP group 5: 73 % progression (jejunum/ileum, Miettinen & Lasota 2006)",
            id="full",
        ),
        pytest.param(
            (3.0, 2, "stomach", False),
            "low — nih.10: 2–5 cm, ≤ 5 mitoses/5 mm², any site (Joensuu 2008); "
            "AFIP group 2: 1.9 % progression (stomach, Miettinen & Lasota 2006)",
            id="decimal-percentage",
        ),
        pytest.param(
            (1.0, 2, "stomach", False),
            "very low — nih.11: ≤ 2 cm, ≤ 5 mitoses/5 mm², any site (Joensuu 2008); "
            "AFIP group 1: 0 % progression (stomach, Miettinen & Lasota 2006)",
            id="very-low",
        ),
        pytest.param(
            (12.0, 3, "colon", False),
            "high — nih.2: > 10 cm, any mitoses (Joensuu 2008); "
            "AFIP: no data for colon (group 3b, Miettinen & Lasota 2006)",
            id="site-without-afip-data",
        ),
        pytest.param(
            (7.0, 3, "duodenum", False),
            "high — nih.6: non-gastric, 5–10 cm, ≤ 5 mitoses/5 mm² (Joensuu 2008); "
            "AFIP group 3a: insufficient data (duodenum, Miettinen & Lasota 2006)",
            id="afip-null-cell",
        ),
        pytest.param(
            (3.0, 7, None, False),
            "high — nih.5: non-gastric, 2–5 cm, > 5 mitoses/5 mm² (Joensuu 2008); "
            "AFIP: no data for unknown site (group 5, Miettinen & Lasota 2006)",
            id="unknown-site",
        ),
        pytest.param(
            (None, None, "stomach", True),
            "high — nih.1: tumour rupture, any size and mitoses (Joensuu 2008); "
            "AFIP: not assessable, size or mitoses unknown (Miettinen & Lasota 2006)",
            id="ruptured-unknown-size",
        ),
        pytest.param(
            (4.0, None, "stomach", False),
            "NIH: not assessable, size or mitoses unknown (Joensuu 2008); "
            "AFIP: not assessable, size or mitoses unknown (Miettinen & Lasota 2006)",
            id="unknown-mitoses",
        ),
    ],
)
def test_explain(args: tuple[float | None, int | None, str | None, bool], line: str) -> None:
    assert explain(assess_risk(*args)) == line


def test_json_shape_has_contract_keys() -> None:
    out = assess_risk(3.0, 7, "duodenum", ruptured=False).to_json()
    assert {k: out[k] for k in ("nih_modified", "afip_group", "afip_progression_pct", "ruptured")} == {
        "nih_modified": "high",
        "afip_group": "5",
        "afip_progression_pct": 50.0,
        "ruptured": False,
    }


# --- properties -------------------------------------------------------------------------------

TIER_RANK = {"very_low": 0, "low": 1, "intermediate": 2, "high": 3}
BOUNDARY_SIZES = [2.0, 2.1, 5.0, 5.1, 10.0, 10.1]

sizes = st.one_of(st.sampled_from(BOUNDARY_SIZES), st.floats(min_value=0.1, max_value=100.0))
mitoses_counts = st.one_of(st.sampled_from([0, 5, 6, 10, 11]), st.integers(min_value=0, max_value=1000))
any_site = st.sampled_from([*CONTRACT_SITES, None])


def _rank(size: float | None, mitoses: int | None, site: str | None, ruptured: bool) -> int:
    tier = assess_risk(size, mitoses, site, ruptured).nih_modified
    assert tier is not None
    return TIER_RANK[tier]


@given(a=sizes, b=sizes, mitoses=mitoses_counts, site=any_site, ruptured=st.booleans())
def test_tier_never_decreases_with_size(
    a: float, b: float, mitoses: int, site: str | None, ruptured: bool
) -> None:
    small, large = sorted((a, b))
    assert _rank(small, mitoses, site, ruptured) <= _rank(large, mitoses, site, ruptured)


@given(size=sizes, a=mitoses_counts, b=mitoses_counts, site=any_site, ruptured=st.booleans())
def test_tier_never_decreases_with_mitoses(
    size: float, a: int, b: int, site: str | None, ruptured: bool
) -> None:
    low, high = sorted((a, b))
    assert _rank(size, low, site, ruptured) <= _rank(size, high, site, ruptured)


@given(size=st.none() | sizes, mitoses=st.none() | mitoses_counts, site=any_site)
def test_rupture_never_lowers_tier(size: float | None, mitoses: int | None, site: str | None) -> None:
    assert assess_risk(size, mitoses, site, ruptured=True).nih_modified == "high"
    intact = assess_risk(size, mitoses, site, ruptured=False).nih_modified
    assert intact is None or TIER_RANK[intact] <= TIER_RANK["high"]


@given(size=st.none() | sizes, mitoses=st.none() | mitoses_counts, site=any_site, ruptured=st.booleans())
def test_tier_none_only_when_unknown(
    size: float | None, mitoses: int | None, site: str | None, ruptured: bool
) -> None:
    risk = assess_risk(size, mitoses, site, ruptured)
    unknown = not ruptured and (size is None or mitoses is None)
    assert (risk.nih_modified is None) == unknown
    assert (risk.nih_row is None) == unknown


@given(size=sizes, mitoses=mitoses_counts, site=st.sampled_from([*NO_AFIP_SITES, None]))
def test_unknown_or_non_gastric_site_never_ranks_below_stomach(
    size: float, mitoses: int, site: str | None
) -> None:
    """Why an unknown site is read as non-gastric: it never under-states the risk."""
    assert _rank(size, mitoses, site, False) >= _rank(size, mitoses, "stomach", False)


GROUP_BY_BAND = {
    ("A", False): "1",
    ("B", False): "2",
    ("C", False): "3a",
    ("D", False): "3b",
    ("A", True): "4",
    ("B", True): "5",
    ("C", True): "6a",
    ("D", True): "6b",
}
COLUMN_BY_SITE = {s: s for s in ("stomach", "jejunum_ileum", "duodenum", "rectum")}


@given(size=sizes, mitoses=mitoses_counts, site=any_site, ruptured=st.booleans())
def test_afip_group_follows_band(size: float, mitoses: int, site: str | None, ruptured: bool) -> None:
    risk = assess_risk(size, mitoses, site, ruptured)
    assert risk.afip_group == GROUP_BY_BAND[(size_band(size), mitoses > 5)]
    column = COLUMN_BY_SITE.get(site) if site is not None else None
    assert risk.afip_column == column
    expected_pct = None if column is None else AFIP_TABLE[risk.afip_group][column]
    assert risk.afip_progression_pct == expected_pct

"""Shipped reference data (pipeline/refdata) and its loaders."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

import pycountry
import pytest

from pipeline.reference_files import (
    DEFAULT_NEGATIVE_LISTS_DIR,
    ReferenceDataError,
    expected_class,
    load_category_taxonomy,
    load_country_risk,
    load_negative_list_file,
    load_negative_lists,
)
from schemas.models import NegativeListEntry

SHIPPED_LISTS = sorted(DEFAULT_NEGATIVE_LISTS_DIR.glob("*.yaml"))

HEADER = """\
list_id: test-ftz-2024
version: "1"
ftz: test
region: null
effective_from: "2024-01-01T00:00:00+08:00"
effective_until: null
source: a test edition
example: true
"""

GOOD_ITEM = """\
  - item_id: t-01
    sector: retail
    categories: [retail.member]
    description: members
    required_path: contract_or_certification
    min_subjects: 100000
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _in_force(entry: NegativeListEntry, ts: datetime) -> bool:
    """spec/contracts.md: effective_from <= ts <= effective_until, null = open."""
    return (entry.effective_from is None or entry.effective_from <= ts) and (
        entry.effective_until is None or ts <= entry.effective_until
    )


def _applies(entry: NegativeListEntry, sector: str, region: str, ftz: str | None) -> bool:
    """spec/contracts.md: same sector, and the region of a city-wide edition or else the FTZ."""
    if entry.sector != sector:
        return False
    if entry.region is not None:
        return entry.region == region
    return ftz is not None and entry.ftz == ftz


def _editions_in_force(ts: str) -> set[str]:
    at = datetime.fromisoformat(ts)
    return {entry.list_id for entry in load_negative_lists() if _in_force(entry, at)}


# --- shipped files ----------------------------------------------------------------------------


def test_shipped_editions_exist() -> None:
    names = {path.name for path in SHIPPED_LISTS}
    assert {"beijing-ftz-2024.yaml", "beijing-2025.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED_LISTS, ids=lambda path: path.name)
def test_every_shipped_edition_loads(path: Path) -> None:
    entries = load_negative_list_file(path)
    assert entries
    assert len({entry.list_id for entry in entries}) == 1
    assert len({entry.item_id for entry in entries}) == len(entries)
    assert all(isinstance(entry, NegativeListEntry) for entry in entries)


def test_all_editions_load_with_unique_keys() -> None:
    entries = load_negative_lists()
    assert len(entries) == sum(len(load_negative_list_file(path)) for path in SHIPPED_LISTS)
    keys = [(entry.list_id, entry.item_id) for entry in entries]
    assert len(set(keys)) == len(keys)


def test_beijing_2024_covers_the_five_sectors() -> None:
    entries = load_negative_list_file(DEFAULT_NEGATIVE_LISTS_DIR / "beijing-ftz-2024.yaml")
    assert {entry.sector for entry in entries} == {
        "automobile",
        "pharmaceutical",
        "retail",
        "civil_aviation",
        "ai",
    }
    assert {entry.ftz for entry in entries} == {"beijing"}
    assert {entry.region for entry in entries} == {None}
    assert {entry.min_subjects for entry in entries} >= {None, 10_000, 100_000, 1_000_000}


def test_beijing_2025_is_city_wide() -> None:
    entries = load_negative_list_file(DEFAULT_NEGATIVE_LISTS_DIR / "beijing-2025.yaml")
    assert {(entry.ftz, entry.region) for entry in entries} == {("beijing", "beijing")}
    assert {entry.effective_until for entry in entries} == {None}


def test_shipped_files_are_marked_as_examples() -> None:
    for path in SHIPPED_LISTS:
        text = path.read_text(encoding="utf-8")
        assert "example: true" in text
        assert "NOT THE OFFICIAL TEXT" in text


# --- editions in and out of force -------------------------------------------------------------


def test_2024_edition_in_force_before_2025_edition() -> None:
    assert _editions_in_force("2025-01-01T12:00:00+08:00") == {"beijing-ftz-2024"}
    assert _editions_in_force("2025-07-01T12:00:00+08:00") == {"beijing-2025"}


def test_editions_hand_over_without_gap_or_overlap() -> None:
    assert _editions_in_force("2024-08-29T23:59:59+08:00") == set()
    assert _editions_in_force("2024-08-30T00:00:00+08:00") == {"beijing-ftz-2024"}
    assert _editions_in_force("2025-05-31T23:59:59.999999+08:00") == {"beijing-ftz-2024"}
    assert _editions_in_force("2025-06-01T00:00:00+08:00") == {"beijing-2025"}


@pytest.mark.parametrize(
    ("ftz", "expected"),
    [("beijing", {"beijing-ftz-2024", "beijing-2025"}), (None, {"beijing-2025"})],
)
def test_city_wide_edition_reaches_enterprises_outside_the_ftz(
    ftz: str | None, expected: set[str]
) -> None:
    applying = {
        entry.list_id
        for entry in load_negative_lists()
        if _applies(entry, "retail", "beijing", ftz)
    }
    assert applying == expected


def test_window_is_stored_in_utc() -> None:
    entry = load_negative_list_file(DEFAULT_NEGATIVE_LISTS_DIR / "beijing-ftz-2024.yaml")[0]
    assert entry.effective_from == datetime.fromisoformat("2024-08-29T16:00:00+00:00")


# --- invalid negative-list files --------------------------------------------------------------


def test_invalid_item_names_file_and_item(tmp_path: Path) -> None:
    bad_item = GOOD_ITEM + textwrap.indent(
        "- item_id: t-02\n  sector: retail\n  categories: [retail.member]\n"
        "  description: x\n  required_path: forbidden\n",
        "  ",
    )
    path = _write(tmp_path, "bad.yaml", HEADER + "items:\n" + bad_item)
    with pytest.raises(ReferenceDataError) as caught:
        load_negative_list_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "items[1]" in message
    assert "t-02" in message
    assert "required_path" in message


@pytest.mark.parametrize(
    ("item_line", "fragment"),
    [
        ("    colour: red\n", "colour"),
        ("    min_subjects_extra: 1\n", "min_subjects_extra"),
        ("    ftz: elsewhere\n", "set by the file header"),
    ],
)
def test_unknown_or_header_field_in_item_rejected(
    tmp_path: Path, item_line: str, fragment: str
) -> None:
    path = _write(tmp_path, "extra.yaml", HEADER + "items:\n" + GOOD_ITEM + item_line)
    with pytest.raises(ReferenceDataError, match=fragment) as caught:
        load_negative_list_file(path)
    assert "t-01" in str(caught.value)


def test_wrong_types_in_item_rejected(tmp_path: Path) -> None:
    item = GOOD_ITEM.replace("min_subjects: 100000", 'min_subjects: "100000"')
    path = _write(tmp_path, "types.yaml", HEADER + "items:\n" + item)
    with pytest.raises(ReferenceDataError, match="min_subjects"):
        load_negative_list_file(path)


def test_missing_categories_rejected(tmp_path: Path) -> None:
    item = GOOD_ITEM.replace("categories: [retail.member]", "categories: []")
    path = _write(tmp_path, "empty.yaml", HEADER + "items:\n" + item)
    with pytest.raises(ReferenceDataError, match="categories"):
        load_negative_list_file(path)


def test_duplicate_item_id_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "dup.yaml", HEADER + "items:\n" + GOOD_ITEM + GOOD_ITEM)
    with pytest.raises(ReferenceDataError, match="duplicate item_id 't-01'"):
        load_negative_list_file(path)


def test_unknown_header_field_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "hdr.yaml", HEADER + "publisher: x\nitems:\n" + GOOD_ITEM)
    with pytest.raises(ReferenceDataError, match=r"header: publisher"):
        load_negative_list_file(path)


def test_naive_timestamp_rejected(tmp_path: Path) -> None:
    header = HEADER.replace('"2024-01-01T00:00:00+08:00"', "2024-01-01T00:00:00")
    path = _write(tmp_path, "naive.yaml", header + "items:\n" + GOOD_ITEM)
    with pytest.raises(ReferenceDataError, match="effective_from"):
        load_negative_list_file(path)


def test_reversed_window_rejected(tmp_path: Path) -> None:
    header = HEADER.replace("effective_until: null", 'effective_until: "2023-01-01T00:00:00Z"')
    path = _write(tmp_path, "rev.yaml", header + "items:\n" + GOOD_ITEM)
    with pytest.raises(ReferenceDataError, match="before effective_from"):
        load_negative_list_file(path)


def test_header_fields_reach_every_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, "ok.yaml", HEADER + "items:\n" + GOOD_ITEM)
    [entry] = load_negative_list_file(path)
    assert entry.list_id == "test-ftz-2024"
    assert entry.ftz == "test"
    assert entry.region is None
    assert entry.min_subjects == 100_000
    assert entry.effective_until is None


def test_list_id_used_twice_in_a_directory_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", HEADER + "items:\n" + GOOD_ITEM)
    _write(tmp_path, "b.yaml", HEADER + "items:\n" + GOOD_ITEM)
    with pytest.raises(ReferenceDataError, match="already used"):
        load_negative_lists(tmp_path)


def test_invalid_yaml_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.yaml", "items: [\n")
    with pytest.raises(ReferenceDataError, match=r"broken\.yaml"):
        load_negative_list_file(path)


# --- category taxonomy ------------------------------------------------------------------------


def test_taxonomy_covers_every_list_category() -> None:
    taxonomy = load_category_taxonomy()
    used = {category for entry in load_negative_lists() for category in entry.categories}
    assert taxonomy.unknown(used) == []


def test_taxonomy_covers_the_contract_categories() -> None:
    codes = load_category_taxonomy().codes
    kinds = ("biometric", "religion", "identity", "health", "financial", "location", "minor")
    sensitive = {f"pi.sensitive.{kind}" for kind in kinds}
    assert {"pi", "pi.general", "pi.sensitive", "important", "business", "transit"} <= codes
    assert sensitive <= codes
    assert {
        "important.geospatial",
        "important.health",
        "important.auto",
        "important.finance",
        "important.industrial",
    } <= codes


def test_sector_items_name_the_sector_of_the_lists_using_them() -> None:
    taxonomy = load_category_taxonomy()
    for entry in load_negative_lists():
        for category in entry.categories:
            definition = taxonomy.get(category)
            assert definition is not None
            if definition.category_class == "sector_item":
                assert definition.sector == entry.sector, (entry.list_id, entry.item_id)


def test_taxonomy_resolves_by_whole_segments() -> None:
    taxonomy = load_category_taxonomy()
    resolved = taxonomy.resolve("pi.sensitive.health.genome")
    assert resolved is not None and resolved.code == "pi.sensitive.health"
    business = taxonomy.resolve("business.pricing")
    assert business is not None and business.code == "business"
    assert taxonomy.resolve("pipeline.x") is None


def test_taxonomy_rejects_class_contradicting_prefix(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "cats.yaml",
        """\
        version: "1"
        categories:
          - {code: pi.sensitive.health, class: personal, en: Health, zh: 健康}
        """,
    )
    with pytest.raises(ReferenceDataError, match="sensitive_personal"):
        load_category_taxonomy(path)


def test_expected_class_by_prefix() -> None:
    assert expected_class("pi.general") == "personal"
    assert expected_class("pi.sensitive.minor") == "sensitive_personal"
    assert expected_class("important.health") == "important"
    assert expected_class("business.x") == "business"
    assert expected_class("transit.x") == "transit"
    assert expected_class("pipeline.x") == "sector_item"


# --- country risk -----------------------------------------------------------------------------


def test_country_table_has_valid_codes_and_no_cn() -> None:
    table = load_country_risk()
    iso = {country.alpha_2 for country in pycountry.countries}
    assert table.countries
    assert "CN" not in table.countries
    assert set(table.countries) <= iso
    assert all(0 <= risk.score <= 100 for risk in table.countries.values())
    assert 0 <= table.default.score <= 100


def test_country_table_default_for_unlisted() -> None:
    table = load_country_risk()
    assert "AQ" not in table.countries
    assert table.risk("AQ") == table.default
    assert table.score("NO") == table.countries["NO"].score


def test_country_table_rejects_cn(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "risk.yaml",
        """\
        version: "1"
        default: {score: 50, basis: x}
        countries:
          "CN": {score: 0, basis: x}
        """,
    )
    with pytest.raises(ReferenceDataError, match="CN is never a destination"):
        load_country_risk(path)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ('"XX": {score: 10, basis: x}', "ISO 3166-1"),
        ('"de": {score: 10, basis: x}', "ISO 3166-1"),
        ("NO: {score: 10, basis: x}", "quote"),
        ('"DE": {score: 101, basis: x}', "score"),
        ('"DE": {score: 10}', "basis"),
    ],
)
def test_country_table_rejects_bad_entries(tmp_path: Path, entry: str, fragment: str) -> None:
    path = _write(
        tmp_path,
        "risk.yaml",
        'version: "1"\ndefault: {score: 50, basis: x}\ncountries:\n  ' + entry + "\n",
    )
    with pytest.raises(ReferenceDataError, match=fragment) as caught:
        load_country_risk(path)
    assert "risk.yaml" in str(caught.value)

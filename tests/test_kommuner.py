"""The 98 Danish municipalities ship with the project; configs are checked against them."""

from __future__ import annotations

from collections import Counter

import pytest

from bots.config.kommuner import all_kommuner, by_slug, slugify, suggest


def test_the_list_has_the_98_municipalities_since_2007_with_unique_codes_and_slugs() -> None:
    kommuner = all_kommuner()
    assert len(kommuner) == 98
    assert len({k.code for k in kommuner}) == 98
    assert len({k.slug for k in kommuner}) == 98
    assert len({k.name for k in kommuner}) == 98
    assert all(len(k.code) == 3 and k.code.isdigit() for k in kommuner)
    assert Counter(k.region for k in kommuner) == {
        "Region Hovedstaden": 29,
        "Region Sjælland": 17,
        "Region Syddanmark": 22,
        "Region Midtjylland": 19,
        "Region Nordjylland": 11,
    }


@pytest.mark.parametrize(
    ("code", "name", "official", "slug"),
    [
        ("101", "København", "Københavns Kommune", "koebenhavn"),
        ("147", "Frederiksberg", "Frederiksberg Kommune", "frederiksberg"),
        ("250", "Frederikssund", "Frederikssund Kommune", "frederikssund"),
        ("260", "Halsnæs", "Halsnæs Kommune", "halsnaes"),
        ("400", "Bornholm", "Bornholms Regionskommune", "bornholm"),
        ("492", "Ærø", "Ærø Kommune", "aeroe"),
        ("173", "Lyngby-Taarbæk", "Lyngby-Taarbæk Kommune", "lyngby-taarbaek"),
        ("751", "Aarhus", "Aarhus Kommune", "aarhus"),
        ("760", "Ringkøbing-Skjern", "Ringkøbing-Skjern Kommune", "ringkoebing-skjern"),
        ("820", "Vesthimmerland", "Vesthimmerlands Kommune", "vesthimmerland"),
        ("185", "Tårnby", "Tårnby Kommune", "taarnby"),
    ],
)
def test_known_municipalities(code: str, name: str, official: str, slug: str) -> None:
    k = by_slug(slug)
    assert k is not None
    assert (k.code, k.name, k.official_name) == (code, name, official)


def test_every_slug_follows_the_rule() -> None:
    for k in all_kommuner():
        assert k.slug == slugify(k.name), k
        assert k.slug.isascii() and k.slug == k.slug.lower()
    assert slugify("Ringkøbing-Skjern Kommune") == "ringkoebing-skjern"
    assert slugify("Høje Taastrup") == "hoeje-taastrup"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ringkobing-skjern", "ringkoebing-skjern"),  # ø written as o
        ("Halsnæs Kommune", "halsnaes"),  # the name instead of the slug
        ("kobenhavn", "koebenhavn"),
        ("århus", "aarhus"),
        ("frederikshavnn", "frederikshavn"),
    ],
)
def test_a_typo_gets_a_suggestion(typed: str, meant: str) -> None:
    guess = suggest(typed)
    assert guess is not None and guess.slug == meant


def test_nothing_close_gets_no_suggestion() -> None:
    assert suggest("atlantis") is None
    assert by_slug("testby") is None

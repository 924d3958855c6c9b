"""Campaign material: every tagged link is listed, its QR codes decode back to it with a
real decoder (from the PNG, the SVG as a browser draws it, and the printed PDF pages),
the print sheets say what the municipality wants said, and the embed snippet is exact."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import yaml
import zxingcpp
from PIL import Image

from bots.config.load import parse_config
from provisioning.campaign import sheets
from tests.browser_fixture import ARTIFACTS, browser
from tests.provisioning_helpers import run_command

__all__ = ["browser"]  # a fixture, used by name

PUBLIC = "https://chat.example.dk"


def config(tmp_path: Path) -> Path:
    token = "k4Rz9QmW2pLx7VbN3cTy8JdF"
    data = {
        "public_url": PUBLIC,
        "homeservers": {
            "hs": {
                "server_name": "example.dk",
                "url": "https://matrix.example.dk",
                "admin_token": token,
                "appservice": {"as_token": token + "a", "hs_token": token + "h", "url": "http://x"},
            }
        },
        "municipalities": [
            {
                "slug": "halsnaes",
                "name": "Halsnæs Kommune",
                "homeserver": "hs",
                "opening_hours": {
                    "weekly": {day: ["18:00-21:00"] for day in ("monday", "tuesday", "thursday")}
                },
                "channels": ["plakat", "kort", "skole-intra"],
                "campaign": {
                    "headline": "Går du og tænker på noget?",
                    "footer": "Ungechat er et tilbud fra UKC i Halsnæs.",
                    "color": "#7a3b69",
                },
                "texts": {"promise": "Du er anonym hos os – altid. Vi sletter samtalen bagefter."},
            },
            {
                "slug": "ringkoebing-skjern",
                "name": "Ringkøbing-Skjern Kommune",
                "homeserver": "hs",
                "opening_hours": {"always_open": True},
                "channels": ["facebook", "kommunebil"],
            },
        ],
    }
    path = tmp_path / "ungechat.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def link(slug: str, channel: str) -> str:
    return f"{PUBLIC}/k/{slug}?kanal={channel}"


def decoded(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image)]


def pdf_pages(path: Path, scale: float = 2) -> list[tuple[Image.Image, str]]:
    """Each page as a picture (as a printer would put it on paper) and its text."""
    pdf = pdfium.PdfDocument(path)
    try:
        pages = []
        for page in pdf:
            text = " ".join(page.get_textpage().get_text_range().split())  # lines joined
            pages.append((page.render(scale=scale).to_pil(), text))
        return pages
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("campaign")
    out = tmp / "kampagne"
    code = run_command("links", "-c", str(config(tmp)), "-o", str(out))
    assert code == 0
    return out


def test_links_lists_every_channel_and_the_embed_snippet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("links", "-c", str(config(tmp_path)), "-o", str(tmp_path / "k")) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:4] == [
        "Halsnæs Kommune (halsnaes)",
        f"  plakat       {link('halsnaes', 'plakat')}",
        f"  kort         {link('halsnaes', 'kort')}",
        f"  skole-intra  {link('halsnaes', 'skole-intra')}",
    ]
    snippet = (
        f'<script src="{PUBLIC}/embed.js" data-kommune="halsnaes" '
        'data-kanal="hjemmeside" async></script>'
    )
    assert f"    {snippet}" in lines
    assert "visits through the embed are counted as 'ukendt'" in out  # not one of its channels
    assert f"  kommunebil  {link('ringkoebing-skjern', 'kommunebil')}" in lines
    # No site is allowed to show the chat yet: the IT person is told where to say which.
    nowhere = "no site may show the chat yet: add your site's address under embed_origins"
    assert nowhere in out
    embed_file = (tmp_path / "k" / "halsnaes" / "indlejring.html").read_text()
    assert embed_file.startswith(snippet + "\n<!-- ") and nowhere in embed_file
    with (tmp_path / "k" / "ringkoebing-skjern" / "links.csv").open(encoding="utf-8") as f:
        assert list(csv.reader(f)) == [
            ["kanal", "link"],
            ["facebook", link("ringkoebing-skjern", "facebook")],
            ["kommunebil", link("ringkoebing-skjern", "kommunebil")],
        ]


def test_every_png_qr_code_decodes_to_its_link(material: Path) -> None:
    out = material
    expected = {("halsnaes", c) for c in ("plakat", "kort", "skole-intra")} | {
        ("ringkoebing-skjern", c) for c in ("facebook", "kommunebil")
    }
    found = {(p.parent.parent.name, p.parent.name) for p in out.glob("*/*/qr.png")}
    assert found == expected
    for slug, channel in expected:
        png = Image.open(out / slug / channel / "qr.png")
        assert png.width >= 900  # sharp enough for a Facebook post or the school intranet
        assert decoded(png) == [link(slug, channel)]


async def test_the_svg_qr_code_decodes_as_a_browser_draws_it(material: Path, browser: Any) -> None:
    out = material
    svg = out / "halsnaes" / "skole-intra" / "qr.svg"
    page = await browser.new_page(viewport={"width": 600, "height": 600})
    try:
        await page.goto(svg.as_uri())
        shot = ARTIFACTS / "qr-svg-skole-intra.png"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.locator("svg").screenshot(path=str(shot))
    finally:
        await page.close()
    assert decoded(Image.open(shot)) == [link("halsnaes", "skole-intra")]


def test_printed_sheets_carry_the_code_and_the_municipalitys_words(
    material: Path,
) -> None:
    out = material
    folder = out / "halsnaes" / "plakat"
    ARTIFACTS.mkdir(exist_ok=True)
    for name, pages in (("plakat-a4.pdf", 1), ("plakat-a3.pdf", 1), ("kort-a6.pdf", 2)):
        rendered = pdf_pages(folder / name)
        assert len(rendered) == pages, name
        image, text = rendered[0]
        image.save(ARTIFACTS / f"campaign-{name}.png")
        assert decoded(image) == [link("halsnaes", "plakat")], name
        assert "Går du og tænker på noget?" in text  # the municipality's own headline
        assert "UNGECHAT HALSNÆS" in text
        whole = " ".join(t for _, t in rendered)
        assert "Mandag, tirsdag og torsdag kl. 18–21" in whole
        assert "Lukket på helligdage." in whole
        assert "Du er anonym hos os – altid." in whole  # its own promise (texts.promise)
        assert "Ungechat er et tilbud fra UKC i Halsnæs." in whole
        assert "ring 112" in whole  # where to get help now
    a4 = pdfium.PdfDocument(folder / "plakat-a4.pdf")
    a3 = pdfium.PdfDocument(folder / "plakat-a3.pdf")
    card = pdfium.PdfDocument(folder / "kort-a6.pdf")
    try:  # in points: A4 210×297 mm, A3 297×420 mm, A6 105×148 mm
        assert [round(x) for x in a4[0].get_size()] == [595, 842]
        assert [round(x) for x in a3[0].get_size()] == [842, 1191]
        assert [round(x) for x in card[0].get_size()] == [298, 420]
    finally:
        for doc in (a4, a3, card):
            doc.close()
    back = pdf_pages(folder / "kort-a6.pdf")[1][1]
    assert "chat.example.dk/k/halsnaes?kanal=plakat" in back


def test_an_always_open_chat_says_so_on_the_poster(material: Path) -> None:
    out = material
    _, text = pdf_pages(out / "ringkoebing-skjern" / "kommunebil" / "plakat-a4.pdf")[0]
    assert "Hele døgnet, alle dage" in text
    assert "Noget, der fylder?" in text  # the default headline
    assert "Et tilbud til unge mellem 13 og 24 år fra Ringkøbing-Skjern Kommune." in text


def test_long_texts_are_set_smaller_and_never_cover_the_code(tmp_path: Path) -> None:
    data = yaml.safe_load(config(tmp_path).read_text(encoding="utf-8"))
    long = " ".join(["Har du brug for at snakke med en voksen, der lytter og ikke dømmer?"] * 4)
    data["municipalities"][0]["campaign"]["headline"] = long
    data["municipalities"][0]["texts"]["intro"] = long
    cfg = parse_config(data, tmp_path)
    m = cfg.municipalities[0]
    sheet = sheets.Sheet.of(m, link("halsnaes", "plakat"))
    sheets.poster(sheet, tmp_path / "a4.pdf")
    sheets.card(sheet, tmp_path / "a6.pdf")
    for name in ("a4.pdf", "a6.pdf"):
        image, text = pdf_pages(tmp_path / name)[0]
        image.save(ARTIFACTS / f"campaign-long-{name}.png")
        assert decoded(image) == [link("halsnaes", "plakat")]
        assert "…" in text and text.count("Har du brug for") < 8

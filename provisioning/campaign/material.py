"""`ungechat links`: per municipality and channel, the tagged youth link, its QR code and
print sheets, and the embed snippet for the municipality's own site.

Layout of the output folder:
  <slug>/links.csv                 channel, link (for a spreadsheet or an ad manager)
  <slug>/indlejring.html           the embed snippet for the municipality's site
  <slug>/<kanal>/qr.svg, qr.png    the code alone
  <slug>/<kanal>/kort-a6.pdf       a card, front and back
  <slug>/<kanal>/plakat-a4.pdf     posters
  <slug>/<kanal>/plakat-a3.pdf
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A3, A4

from bots.config.model import Config, Municipality
from provisioning.campaign import qr, sheets

EMBED_CHANNEL = "hjemmeside"


def youth_link(public_url: str, slug: str, channel: str) -> str:
    return f"{public_url.rstrip('/')}/k/{slug}?kanal={channel}"


def embed_snippet(public_url: str, slug: str) -> str:
    """One line for the municipality's site; /embed.js reads these attributes."""
    base = public_url.rstrip("/")
    return (
        f'<script src="{base}/embed.js" data-kommune="{slug}" '
        f'data-kanal="{EMBED_CHANNEL}" async></script>'
    )


def embed_origins_note(m: Municipality) -> str:
    """Which sites the browser lets show the chat (the page's frame-ancestors)."""
    if not m.embed_origins:
        return (
            "(no site may show the chat yet: add your site's address under embed_origins "
            "in the config, or browsers show an empty frame)"
        )
    return f"(may be shown on: {', '.join(m.embed_origins)} — embed_origins in the config)"


@dataclass(frozen=True)
class ChannelLink:
    municipality: Municipality
    channel: str
    url: str


def links(config: Config) -> list[ChannelLink]:
    return [
        ChannelLink(m, channel, youth_link(config.public_url, m.slug, channel))
        for m in config.municipalities
        for channel in m.channels
    ]


def write_material(config: Config, out_dir: Path, *, print_sheets: bool = True) -> list[Path]:
    """Write every file; returns them in order. Existing files are replaced (they are made
    from the config, so the config is what to keep)."""
    written: list[Path] = []
    for m in config.municipalities:
        folder = out_dir / m.slug
        folder.mkdir(parents=True, exist_ok=True)
        rows = [link for link in links(config) if link.municipality is m]
        table = folder / "links.csv"
        with table.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["kanal", "link"])
            writer.writerows([link.channel, link.url] for link in rows)
        embed = folder / "indlejring.html"
        embed.write_text(
            f"{embed_snippet(config.public_url, m.slug)}\n<!-- {embed_origins_note(m)} -->\n",
            encoding="utf-8",
        )
        written += [table, embed]
        for link in rows:
            written += _channel_files(link, folder / link.channel, print_sheets)
    return written


def _channel_files(link: ChannelLink, folder: Path, print_sheets: bool) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    svg, png = folder / "qr.svg", folder / "qr.png"
    qr.write_files(link.url, svg, png)
    if not print_sheets:
        return [svg, png]
    sheet = sheets.Sheet.of(link.municipality, link.url)
    card, a4, a3 = folder / "kort-a6.pdf", folder / "plakat-a4.pdf", folder / "plakat-a3.pdf"
    sheets.card(sheet, card)
    sheets.poster(sheet, a4, A4)
    sheets.poster(sheet, a3, A3)
    return [svg, png, card, a4, a3]


def listing(config: Config) -> str:
    """What `ungechat links` prints: the links per municipality, and the embed snippet."""
    lines: list[str] = []
    for m in config.municipalities:
        lines.append(f"{m.name} ({m.slug})")
        rows = [link for link in links(config) if link.municipality is m]
        width = max((len(link.channel) for link in rows), default=0)
        lines += [f"  {link.channel:<{width}}  {link.url}" for link in rows]
        if not rows:
            lines.append("  (no channels yet: list them under channels in the config)")
        lines.append("  Til kommunens hjemmeside / for the municipality's site:")
        lines.append(f"    {embed_snippet(config.public_url, m.slug)}")
        if EMBED_CHANNEL not in m.channels:
            lines.append(
                f"    (note: '{EMBED_CHANNEL}' is not one of its channels, so visits through "
                "the embed are counted as 'ukendt')"
            )
        lines.append(f"    {embed_origins_note(m)}")
        lines.append("")
    return "\n".join(lines)

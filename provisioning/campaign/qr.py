"""QR codes for the youth links (segno), as files and drawn as vectors on a PDF page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import segno

QUIET_ZONE = 4  # modules of light border the QR standard asks for


def make(url: str) -> segno.QRCode:
    # Level M survives a scratched or creased poster; never a Micro QR (few phones read it).
    return segno.make(url, error="m", micro=False)


def write_files(url: str, svg: Path, png: Path, *, dark: str = "#000000") -> None:
    """SVG for print shops and layout programs, PNG (about 1000 px) for Facebook and intra."""
    code = make(url)
    code.save(str(svg), kind="svg", scale=10, border=QUIET_ZONE, dark=dark, xmldecl=False)
    scale = max(4, 1000 // code.symbol_size(scale=1, border=QUIET_ZONE)[0])
    code.save(str(png), kind="png", scale=scale, border=QUIET_ZONE, dark=dark)


def draw(canvas: Any, url: str, x: float, y: float, size: float, *, dark: Any) -> None:
    """Draw the code (without its quiet zone: leave that much white around it) with its
    lower left corner at (x, y), `size` points wide, one rectangle per run of dark modules."""
    matrix = make(url).matrix
    n = len(matrix)
    module = size / n
    canvas.saveState()
    canvas.setFillColor(dark)
    path = canvas.beginPath()
    for row, bits in enumerate(matrix):
        top = y + size - (row + 1) * module
        col = 0
        while col < n:
            if bits[col]:
                start = col
                while col < n and bits[col]:
                    col += 1
                path.rect(x + start * module, top, (col - start) * module, module)
            else:
                col += 1
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def modules(url: str) -> int:
    """How many modules wide the code is (without the quiet zone)."""
    return len(make(url).matrix)

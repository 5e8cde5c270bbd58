"""A self-contained HTML report: headings, text, tables and images embedded as data URIs.

One file, no external resources, so it can be mailed, attached to an issue or opened
offline. Images are embedded as PNG or JPEG: ``numpy`` arrays are encoded here, files and
encoded bytes are embedded as they are. Besides single figures, a *gallery* sets labelled
images side by side (before | after | target) and a *grid* lays out a labelled table of
small images (a contact sheet whose labels stay text).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bno.files import atomic_write_bytes

from bno.synth.io import encode_image

__all__ = ["ImageSource", "Report"]

#: A file (PNG/JPEG), PNG bytes, or an RGB float array (H, W, 3) in [0, 1].
ImageSource = os.PathLike | str | bytes | np.ndarray

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.8em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.note{color:#555}code{background:#f4f4f4;padding:0 .2em}
.lead{font-size:1.15em}.banner{background:#fff4d6;border:1px solid #e6c15a;padding:.6em .9em}
.gallery{display:flex;gap:8px;align-items:flex-start}.gallery figure{margin:0;flex:1 1 0;min-width:0}
.gallery img{width:100%;height:auto}
table.grid caption{text-align:left;font-weight:600;padding:.3em 0}table.grid td{padding:2px;text-align:center}
table.grid td:first-child{text-align:left;vertical-align:middle}table.grid figure{margin:0}
table.grid img{height:72px;width:auto;border:0;display:block;margin:auto}table.grid figcaption{font-size:.75em;white-space:nowrap}
table.commands td:last-child,table.commands th:last-child{text-align:left}table.commands td:last-child{font-family:ui-monospace,monospace;font-size:.85em}
"""


def _data_uri(source: ImageSource, jpeg: bool = False) -> str:
    """``data:`` URI of an image; arrays are encoded as PNG (or JPEG with ``jpeg``)."""
    if isinstance(source, np.ndarray):
        suffix = ".jpg" if jpeg else ".png"
        data, mime = encode_image(source, suffix, 8), _MIME[suffix]
    elif isinstance(source, bytes):
        data, mime = source, "image/png"
    else:
        path = Path(source)
        mime = _MIME.get(path.suffix.lower())
        if mime is None:
            raise ValueError(f"{path}: only PNG and JPEG images can be embedded")
        data = path.read_bytes()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _figure(source: ImageSource, caption: str, alt: str | None = None, jpeg: bool = False) -> str:
    alt_text = html.escape(alt or caption or "image")
    caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{_data_uri(source, jpeg)}" alt="{alt_text}">{caption_html}</figure>'


class Report:
    """Accumulates sections; :meth:`write` produces one self-contained HTML file."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str, anchor: str | None = None) -> None:
        """A section heading; ``anchor`` becomes its ``id`` (a link target)."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self._parts.append(f"<h2{ident}>{html.escape(text)}</h2>")

    def paragraph(self, text: str, note: bool = False, css: str | None = None, anchor: str | None = None) -> None:
        """A paragraph; ``note`` greys it, ``css`` names another class (``lead``, ``banner``)."""
        classes = " ".join(c for c in ("note" if note else "", css or "") if c)
        attributes = (f' class="{classes}"' if classes else "") + (f' id="{html.escape(anchor)}"' if anchor else "")
        self._parts.append(f"<p{attributes}>{html.escape(text)}</p>")

    def code(self, text: str) -> None:
        self._parts.append(f"<pre><code>{html.escape(text)}</code></pre>")

    def table(self, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None, digits: int = 3,
              anchor: str | None = None, css: str | None = None) -> None:
        """A table with one row per mapping; floats are rounded to ``digits`` decimals.

        ``css``: a class of the table (``commands``: the last column left-aligned, monospace).
        """
        if not rows:
            return
        columns = list(columns or rows[0].keys())

        def cell(value: object) -> str:
            if isinstance(value, float):
                return f"{value:.{digits}f}"
            return html.escape("" if value is None else str(value))

        ident = (f' id="{html.escape(anchor)}"' if anchor else "") + (f' class="{html.escape(css)}"' if css else "")
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
        self._parts.append(f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, source: ImageSource, caption: str = "", alt: str | None = None) -> None:
        """Embed an image file (PNG/JPEG), PNG bytes or an RGB float array (H, W, 3) in [0, 1]."""
        self._parts.append(_figure(source, caption, alt))

    def images(self, sources: Iterable[tuple[ImageSource, str]]) -> None:
        for source, caption in sources:
            self.image(source, caption)

    def gallery(self, items: Sequence[tuple[np.ndarray, str]], caption: str = "", anchor: str | None = None, height: int = 260) -> None:
        """Images (H, W, 3) side by side at one height of at most ``height`` px, filling the page's width,
        each with its own label, and an optional caption below."""
        aspects = [image.shape[1] / image.shape[0] for image, _ in items]
        ident = (f' id="{html.escape(anchor)}"' if anchor else "") + f' style="max-width:{round(height * sum(aspects))}px"'
        figures = "".join(_figure(image, label).replace("<figure>", f'<figure style="flex:{aspect:.4f} 1 0">', 1)
                          for (image, label), aspect in zip(items, aspects))
        below = f'<p class="note">{html.escape(caption)}</p>' if caption else ""
        self._parts.append(f'<div class="gallery"{ident}>{figures}</div>{below}')

    def grid(self, rows: Sequence[tuple[str, Sequence[tuple[ImageSource, str]]]], title: str = "") -> None:
        """A table of small labelled images (JPEG) under ``title``: one row per ``(row label, [(image, label), …])``."""
        body = "".join(
            f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{_figure(image, text, jpeg=True)}</td>" for image, text in cells) + "</tr>"
            for label, cells in rows
        )
        top = f"<caption>{html.escape(title)}</caption>" if title else ""
        self._parts.append(f'<table class="grid">{top}<tbody>{body}</tbody></table>')

    def html(self) -> str:
        body = "\n".join(self._parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
        )

    def write(self, path: os.PathLike | str) -> Path:
        path = Path(path)
        atomic_write_bytes(path, self.html().encode("utf-8"))
        return path

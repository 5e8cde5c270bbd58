"""A self-contained HTML report: headings, text, tables and images embedded as data URIs.

One file, no external resources, so it can be mailed, attached to an issue or opened
offline. Images are embedded as PNG (``numpy`` arrays) or as the file's own bytes.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bno.synth.io import atomic_write_bytes, encode_image

__all__ = ["Report"]

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.8em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}
.note{color:#555}code{background:#f4f4f4;padding:0 .2em}
"""


class Report:
    """Accumulates sections; :meth:`write` produces one self-contained HTML file."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, note: bool = False) -> None:
        css = ' class="note"' if note else ""
        self._parts.append(f"<p{css}>{html.escape(text)}</p>")

    def code(self, text: str) -> None:
        self._parts.append(f"<pre><code>{html.escape(text)}</code></pre>")

    def table(self, rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None, digits: int = 3) -> None:
        """A table with one row per mapping; floats are rounded to ``digits`` decimals."""
        if not rows:
            return
        columns = list(columns or rows[0].keys())

        def cell(value: object) -> str:
            if isinstance(value, float):
                return f"{value:.{digits}f}"
            return html.escape("" if value is None else str(value))

        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def image(self, source: os.PathLike | str | np.ndarray, caption: str = "", alt: str | None = None) -> None:
        """Embed an image file (PNG/JPEG) or an RGB float array (H, W, 3) in [0, 1]."""
        if isinstance(source, np.ndarray):
            data, mime = encode_image(source, ".png", 8), "image/png"
        else:
            path = Path(source)
            mime = _MIME.get(path.suffix.lower())
            if mime is None:
                raise ValueError(f"{path}: only PNG and JPEG images can be embedded")
            data = path.read_bytes()
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        alt_text = html.escape(alt or caption or "image")
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{uri}" alt="{alt_text}">{caption_html}</figure>')

    def images(self, sources: Iterable[tuple[os.PathLike | str | np.ndarray, str]]) -> None:
        for source, caption in sources:
            self.image(source, caption)

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

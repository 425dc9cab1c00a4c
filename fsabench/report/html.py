"""One self-contained HTML report: tables, flags and figures inline (base64 PNG), no external files.

Every string that came from a result file passes through jinja2 autoescaping.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fsabench.report.tables import Table

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class InlineFigure:
    name: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def render_html(tables: Sequence[Table], figures: Sequence[InlineFigure] = (), flags: Sequence[str] = (),
                title: str = "fsabench report", intro: str = "", notes: Sequence[str] = (),
                sections: Sequence = ()) -> str:
    """The report page as a string (autoescaped; images as data URIs)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(title=title, intro=intro, tables=tables, figures=figures,
                                                     flags=flags, notes=notes, sections=sections)

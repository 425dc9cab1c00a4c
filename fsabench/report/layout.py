"""Print layout for report charts: sizes for one or two columns, wrapped labels, legends outside the
plot, and tick labels that never overlap (checked on their drawn bounding boxes).

A figure is drawn at the width it is printed at (3.3 in for one column, 6.9 in for two), so its 7-8 pt
text is 7-8 pt on paper; TrueType fonts are embedded in PDF (pdf.fonttype 42).
"""

from __future__ import annotations

import re

from matplotlib import rc_context
from matplotlib.figure import Figure

# Sized for print: fonts of 7-8 pt at the figure's own width, TrueType (type 42) fonts embedded in
# PDF so journals accept them and text stays selectable.
RC = {"svg.hashsalt": "fsabench", "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "figure.titlesize": 9,
      "pdf.fonttype": 42, "ps.fonttype": 42, "axes.spines.top": False, "axes.spines.right": False}
WIDTHS = {"single": 3.3, "double": 6.9}  # inches: one column and the full text width of a two-column paper
WRAP = 22  # characters per line of a tick or legend label



def wrap(text: str, width: int = WRAP) -> str:
    """Break a long label on spaces, slashes or dashes so it never runs into its neighbours."""
    text = str(text)
    if len(text) <= width:
        return text
    pieces = re.findall(r"[^\s/_-]+[\s/_-]*", text) or [text]
    lines, line = [], ""
    for piece in pieces:
        while len(piece) > width:  # one unbreakable run: cut it
            if line:
                lines.append(line.rstrip())
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def legend_below(fig: Figure, ax, width: str | float, handles=None, labels=None) -> None:
    """A legend outside the plot, under it, in as many columns as fit the width; labels wrapped."""
    handles, labels = (handles, labels) if handles is not None else ax.get_legend_handles_labels()
    if not handles:
        return
    inches = WIDTHS.get(width, width) if isinstance(width, str) else width
    wrapped = [wrap(label) for label in labels]
    longest = max(len(line) for label in wrapped for line in label.split("\n"))
    ncols = max(1, min(len(labels), int(inches * 72 / (longest * 4.4 + 28))))
    rows = [wrapped[i:i + ncols] for i in range(0, len(wrapped), ncols)]
    lines = sum(max(label.count("\n") + 1 for label in row) for row in rows)
    fig.set_figheight(fig.get_figheight() + 0.14 * lines + 0.06 * len(rows))  # the plot keeps its height
    with rc_context(RC):
        fig.legend(handles, wrapped, loc="outside lower center", ncols=ncols,
                   frameon=False, fontsize=7, handlelength=1.2, columnspacing=1.0)


def fit_title(ax, text: str, width: str | float) -> None:
    inches = WIDTHS.get(width, width) if isinstance(width, str) else width
    ax.set_title(wrap(text, max(30, int(inches * 13))), fontsize=8)


def tick_overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of tick labels (on one axis) whose drawn boxes intersect; [] when all are readable."""
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    fig.draw_without_rendering()  # constrained layout settles on the second pass (it sizes from the first)
    found = []
    for ax in fig.axes:
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ticks if t.get_visible() and t.get_text()]
            for i, (a, box_a) in enumerate(boxes):
                for b, box_b in boxes[i + 1:]:
                    if box_a.overlaps(box_b):
                        found.append((a, b))
    return found


def tick_depth(fig: Figure) -> float:
    """Inches the x tick labels reach below their axes (the tallest, as drawn)."""
    renderer = fig.canvas.get_renderer()
    heights = [t.get_window_extent(renderer).height for ax in fig.axes for t in ax.get_xticklabels() if t.get_text()]
    return max(heights, default=0.0) / fig.dpi


def two_lines(text: str, width: int = 30) -> str:
    """A rotated label: at most two lines (rotated, every extra line widens the label's slot)."""
    parts = text.split("\n")
    flat = parts[0]
    for part in parts[1:]:  # undo wrap(): a break after a word was a space
        flat += (" " if flat[-1:].isalnum() or flat[-1:] in ")]" else "") + part
    lines = wrap(flat, width).split("\n")
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")


def fit_ticks(fig: Figure) -> Figure:
    """Rotate (then shrink) category tick labels until no two overlap; the figure grows by the
    extra depth rotated labels need, so the plot itself keeps its height."""
    base, flat = fig.get_figheight(), None
    start = max((t.get_rotation() for ax in fig.axes for t in ax.get_xticklabels()[:1]), default=0.0)
    sizes = (7, 6) if not any(ax.images for ax in fig.axes) else (6, 5)
    steps = [(r, sizes[0]) for r in (0, 30, 45, 90) if r >= start] + [(90, sizes[1]), (90, 5)]
    for rotation, size in steps:
        if not tick_overlaps(fig):
            break
        flat = tick_depth(fig) if flat is None else flat
        for ax in fig.axes:
            texts = [t.get_text() for t in ax.get_xticklabels()]
            if ax.get_xscale() != "linear" or not texts:
                continue
            if rotation >= 30 and not ax.images:
                texts = [two_lines(t) for t in texts]
            slanted = 0 < rotation < 90
            ax.set_xticks(ax.get_xticks(), texts, rotation=rotation, ha="right" if slanted else "center",
                          rotation_mode="anchor" if slanted else "default", fontsize=size)
        fig.set_figheight(base + max(0.0, tick_depth(fig) - flat))
    return fig

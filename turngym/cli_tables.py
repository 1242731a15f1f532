"""The CLI's tables: ids and numbers are never cut, prose wraps.

Off a terminal (a pipe, a log file) rich renders 80 columns and used to shrink every column to
fit, cutting ids (``turngym/GUITrac…``: ``turngym list | grep GUITrace`` found nothing).  Here a
column keeps each cell whole on one line unless it is named in ``wrap``; those (descriptions,
details, errors) wrap at spaces and fold a word too long for them rather than cut it.  When the
whole columns alone are wider than the console, the table is printed wider than the console
rather than cropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text


def table(*headers: str, wrap: Iterable[str] = (), **kwargs: Any) -> Table:
    """A Table with one column per header; only the columns named in ``wrap`` may wrap."""
    prose = set(wrap)
    unknown = prose - set(headers)
    if unknown:
        raise ValueError(f"wrap names columns the table lacks: {sorted(unknown)}")
    return Table(*(Column(h, no_wrap=h not in prose, overflow="fold") for h in headers), **kwargs)


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` with its whole (``no_wrap``) columns at least as wide as their widest cell."""
    for column in table.columns:
        if column.no_wrap:
            column.min_width = max([_width(console, column.header)] + [_width(console, c) for c in column.cells])
    console.print(table, crop=False)


def _width(console: Console, cell: Any) -> int:
    if isinstance(cell, str):
        cell = Text.from_markup(cell)
    if isinstance(cell, Text):
        return max((line.cell_len for line in cell.split()), default=0)
    return console.measure(cell).maximum

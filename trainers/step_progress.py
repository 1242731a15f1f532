"""Progress of a long command: rich's bar on a terminal, plain lines everywhere else.

Rich shows its live bars only on a terminal, so a command whose output goes to a log file, a pipe
or CI printed its first line and then nothing for many minutes.  Off a terminal
:class:`StepProgress` prints, flushed, a line such as

    SFT steps 40/400  loss 0.123  elapsed 0:01:02  ETA 0:09:18

every ``every`` steps (about ``LINES`` lines a run), whenever ``HEARTBEAT_S`` seconds of wall time
have passed since the last line (checked as each step ends), and at the last step.  The ETA is the
rate of the steps done in this process (a resumed run starts at ``completed``) times those left.

Used by ``train``, ``sft``, ``compare`` (through ``train``), ``eval`` and the data builds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rich.console import Console

LINES = 20  # plain lines in a whole run, about
HEARTBEAT_S = 60.0  # and at least one this often while steps end


def on_terminal(console: Console) -> bool:
    """Whether rich will draw a live bar on ``console`` (the test rich's ``Live`` makes)."""
    return console.is_jupyter or (console.is_terminal and not console.is_dumb_terminal)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


class StepProgress:
    """``with StepProgress("SFT steps", 400, console) as bar: ... bar.advance(info="loss 0.12")``.

    ``console=None`` reports nothing.  ``info`` is the step's metric (loss, reward), shown after the
    count; the bar keeps rich's columns (description, bar, n/total, elapsed, info)."""

    def __init__(self, description: str, total: int, console: Console | None, *, completed: int = 0,
                 lines: int = LINES, heartbeat_s: float = HEARTBEAT_S, clock: Callable[[], float] = time.monotonic):
        self.description, self.total, self.console = description, total, console
        self.start = self.done = completed
        self.every = max(1, math.ceil((total - completed) / max(1, lines)))
        self.heartbeat_s, self._clock = heartbeat_s, clock
        self.bar: Any = None  # rich.progress.Progress on a terminal
        self._job: Any = None

    def __enter__(self) -> StepProgress:
        self._began = self._last = self._clock()
        if self.console is not None and on_terminal(self.console):
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.fields[info]}"), console=self.console)
            self._job = self.bar.add_task(self.description, total=self.total, completed=self.done, info="")
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, n: int = 1, info: str = "") -> None:
        before, self.done = self.done, self.done + n
        if self.bar is not None:
            self.bar.update(self._job, advance=n, info=info)
            return
        if self.console is None:
            return
        now = self._clock()
        crossed = (self.done - self.start) // self.every > (before - self.start) // self.every
        if not crossed and self.done < self.total and now - self._last < self.heartbeat_s:
            return
        self._last = now
        self.console.print(self.line(info, now), markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()

    def line(self, info: str = "", now: float | None = None) -> str:
        """The plain line for the count so far: ``DESC done/total  INFO  elapsed H:MM:SS  ETA H:MM:SS``."""
        elapsed = (self._clock() if now is None else now) - self._began
        ran = self.done - self.start
        eta = _clock(elapsed / ran * max(0, self.total - self.done)) if ran > 0 else "?"
        parts = [f"{self.description} {self.done}/{self.total}", info, f"elapsed {_clock(elapsed)}", f"ETA {eta}"]
        return "  ".join(p for p in parts if p)

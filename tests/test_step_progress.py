"""StepProgress: rich's bar on a terminal, plain flushed lines (step, metric, elapsed, ETA) elsewhere."""

import io
import re

from rich.console import Console

from trainers.step_progress import StepProgress

LINE = re.compile(r"^SFT steps (\d+)/(\d+)  loss (\S+)  elapsed (\S+)  ETA (\S+)$")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def plain(width: int = 40):
    out = io.StringIO()
    return out, Console(file=out, width=width)  # a StringIO is no terminal: a log file, a pipe


def parsed(out):
    lines = out.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines  # whole lines, never wrapped at the console's width
    return [LINE.match(line).groups() for line in lines]


def test_off_a_terminal_a_line_every_nth_step_with_metric_elapsed_and_eta():
    out, console = plain()
    clock = Clock()
    with StepProgress("SFT steps", 400, console, clock=clock) as bar:
        assert bar.bar is None
        for step in range(400):
            clock.now += 1.5
            bar.advance(info=f"loss {1 / (step + 1):.3f}")
    rows = parsed(out)
    assert [int(r[0]) for r in rows] == list(range(20, 401, 20))  # about 20 lines a run
    assert rows[9] == ("200", "400", "0.005", "0:05:00", "0:05:00")  # half-way at 1.5 s a step
    assert rows[-1][3:] == ("0:10:00", "0:00:00")


def test_slow_steps_print_at_least_every_minute_and_a_resume_counts_its_own_rate():
    out, console = plain()
    clock = Clock()
    with StepProgress("SFT steps", 1000, console, completed=900, clock=clock) as bar:
        assert bar.every == 5
        for _ in range(4):
            clock.now += 25.0
            bar.advance(info="loss 0.1")  # 25 s, 50 s: quiet; 75 s: a minute since the start, a line
    rows = parsed(out)
    assert [r[0] for r in rows] == ["903"]
    assert rows[0][3:] == ("0:01:15", "0:40:25")  # 97 steps left at 25 s each (the 900 resumed ones cost nothing)


def test_on_a_terminal_the_bar_is_kept_and_no_plain_lines_print():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with StepProgress("SFT steps", 10, console) as bar:
        assert bar.bar is not None
        for _ in range(10):
            bar.advance(info="loss 0.5")
    text = out.getvalue()
    assert "SFT steps" in text and "10/10" in text and "loss 0.5" in text
    assert "ETA" not in text and "elapsed" not in text


def test_without_a_console_nothing_is_reported():
    with StepProgress("SFT steps", 3, None) as bar:
        for _ in range(3):
            bar.advance(info="loss 1")
    assert bar.done == 3

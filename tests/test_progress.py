"""Progress bars: redrawn in place on a terminal, a few plain lines in a log file."""

from __future__ import annotations

import io

from evstation.simulation import progress
from evstation.simulation.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_bar(stream, steps: int = 5000, **options) -> str:
    bar = progress_bar(total=steps, desc="rule/train", stream=stream, mininterval=0, **options)
    for _ in range(steps):
        bar.update(1)
    bar.close()
    return stream.getvalue()


def test_a_log_gets_plain_lines_not_a_redrawn_bar():
    text = run_bar(io.StringIO())
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    # the first and the last line only: 5,000 updates in well under PLAIN_INTERVAL_S seconds
    assert len(lines) == 2
    assert lines[0].startswith("rule/train:   0% 0/5000 step") and lines[-1].startswith(
        "rule/train: 100% 5000/5000 step"
    )


def test_a_log_line_comes_at_most_every_interval(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)
    lines = run_bar(io.StringIO(), steps=50).splitlines()
    assert len(lines) > 10 and all(line.startswith("rule/train:") for line in lines)


def test_a_terminal_gets_the_live_bar():
    text = run_bar(Terminal(), steps=200)
    assert text.count("\r") > 10 and text.count("\n") <= 1


def test_a_resumed_run_starts_part_way_and_a_disabled_bar_writes_nothing():
    stream = io.StringIO()
    bar = progress_bar(total=100, initial=40, desc="ppo/seed0", stream=stream)
    bar.update(60)
    bar.close()
    assert stream.getvalue().splitlines()[0].startswith("ppo/seed0:  40% 40/100")
    silent = io.StringIO()
    bar = progress_bar(total=100, desc="x", stream=silent, disable=True)
    bar.update(100)
    bar.close()
    assert silent.getvalue() == ""

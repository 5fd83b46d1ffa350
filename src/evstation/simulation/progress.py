"""Progress bars that suit where they are read: live on a terminal, a plain line now and then in a log.

On a terminal a tqdm bar redraws itself in place with carriage returns. In a job's log file the
same redraws pile up into one line of many kilobytes, so when the stream is not a terminal the bar
writes a plain line (label, percent, steps, elapsed, left, rate) at most every `PLAIN_INTERVAL_S`
seconds, plus the first and the last.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

PLAIN_INTERVAL_S = 60.0
PLAIN_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]"


# hand-written: tqdm redraws with carriage returns on any file; SB3's ProgressBarCallback (rich) logs only its end
class _Lines:
    """A stream for tqdm that turns each in-place redraw ("\\r" + status) into a line of its own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = str(text).rsplit("\r", 1)[-1].strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        getattr(self.stream, "flush", lambda: None)()


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(
    *, total: int, desc: str, unit: str = "step", initial: int = 0, disable: bool = False, stream=None, **options
) -> tqdm:
    """A tqdm bar on `stream` (default stderr): `options` (mininterval, smoothing, ...) as given on a
    terminal; elsewhere plain lines at most every PLAIN_INTERVAL_S seconds."""
    stream = sys.stderr if stream is None else stream
    if disable:
        return tqdm(total=total, initial=initial, disable=True)
    if is_terminal(stream):
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=stream, **options)
    options.update(mininterval=PLAIN_INTERVAL_S, maxinterval=PLAIN_INTERVAL_S, ascii=True, bar_format=PLAIN_FORMAT)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=_Lines(stream), **options)

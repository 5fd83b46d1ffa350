"""Errors a user can cause and fix: the CLI prints them as one line, never a traceback."""

from __future__ import annotations

import errno
import re
import shlex
from pathlib import Path


class UserError(Exception):
    """A mistake in the user's input (params, files): reported in one line, exit non-zero."""


class ConfigError(UserError):
    """params.yaml is missing, unreadable, or holds a key or value the pipeline cannot use."""


class DataError(UserError):
    """An input or intermediate file is missing, broken, or physically impossible."""


# a write that fails for want of room: a full disk, a file size limit, a quota
FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class BalanceError(Exception):
    """A run whose energy does not close: its numbers must not be reported."""


# a command a message tells the user to run, not yet naming an option: `evstation build-dataset`
_COMMAND_HINT = re.compile(r"`evstation (?!-)")


def naming_the_run(message: str, scenario: str, params: str | Path = "params.yaml") -> str:
    """`message` with every command it tells the user to run (`run `evstation build-dataset``) naming
    the scenario, and a parameters file other than params.yaml, of the run that failed: followed as
    written, it makes that scenario's missing file, not the default scenario's."""
    options = f"--scenario {shlex.quote(scenario)} "
    if str(params) != "params.yaml":
        options = f"--params {shlex.quote(str(params))} {options}"
    return _COMMAND_HINT.sub(lambda _: f"`evstation {options}", message)

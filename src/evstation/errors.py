"""Errors a user can cause and fix: the CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """A mistake in the user's input (params, files): reported in one line, exit non-zero."""


class ConfigError(UserError):
    """params.yaml is missing, unreadable, or holds a key or value the pipeline cannot use."""


class DataError(UserError):
    """An input or intermediate file is missing, broken, or physically impossible."""


class BalanceError(Exception):
    """A run whose energy does not close: its numbers must not be reported."""

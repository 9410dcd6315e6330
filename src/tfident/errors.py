"""The tfident exception tree.

::

    TfidentError                  anything tfident raises on purpose
    ├── ConfigError               a config file or key is wrong (names the file and key)
    ├── ExtractError              an agency extract cannot be used (names the file)
    │   ├── MissingFile           a required extract is not in the batch folder
    │   ├── UnreadableFile        the file cannot be decoded or parsed at all
    │   ├── MissingColumn         a required column is absent
    │   ├── DuplicateHeader       a column name appears twice in the header
    │   └── TruncatedFile         the file ends part-way through a row
    ├── LinkageError              person linkage cannot proceed
    ├── StoreError                the database cannot be read or written as asked
    │   └── RunLocked             another run of the same month is in progress
    └── NotFound                  a run, household or record id does not exist

Only ``tfident.cli`` catches these: exit code 2 for bad input, 1 for a bug.
"""

from __future__ import annotations


class TfidentError(Exception):
    """Base class for every error tfident raises on purpose."""


class ConfigError(TfidentError):
    """A configuration file or key is invalid."""


class ExtractError(TfidentError):
    """An agency extract cannot be used; the batch stops before anything is written."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file


class MissingFile(ExtractError):
    """A required extract is missing from the batch folder."""


class UnreadableFile(ExtractError):
    """An extract cannot be decoded or parsed."""


class MissingColumn(ExtractError):
    """An extract lacks a required column."""


class DuplicateHeader(ExtractError):
    """An extract's header names a column more than once."""


class TruncatedFile(ExtractError):
    """An extract ends part-way through a row."""


class LinkageError(TfidentError):
    """Person linkage cannot proceed."""


class StoreError(TfidentError):
    """The database cannot be read or written as asked."""


class RunLocked(StoreError):
    """Another run of the same month holds the month's lock; the message names it."""

    def __init__(self, message: str, *, month: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.month = month
        self.holder = holder


class NotFound(TfidentError):
    """A run, household or record id does not exist."""

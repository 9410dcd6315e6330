"""The tfident exception tree.

::

    TfidentError                  anything tfident raises on purpose
    ├── ConfigError               a config file or key is wrong (names the file and key)
    ├── ExtractError              an agency extract cannot be used (names the file)
    │   ├── MissingFile           a required extract is not in the batch folder
    │   ├── UnreadableFile        the file cannot be decoded or parsed at all
    │   ├── MissingColumn         a required column is absent
    │   ├── DuplicateHeader       a column name appears twice in the header
    │   ├── TruncatedFile         the file ends part-way through a row
    │   ├── BatchRefused          an inbox folder is incomplete, already processed or stale
    │   └── DataCheckFailed       a ``stop`` data check failed (config/checks.yaml); lists every one
    ├── LinkageError              person linkage cannot proceed
    │   └── RecordNotFound        a record key named for an explanation is not among the records (*)
    ├── StoreError                the database cannot be read or written as asked
    │   ├── DecisionRefused       a decision cannot follow the family's current status
    │   ├── ClaimRefused          a claim the database or its status rules refuse (one per family and period)
    │   ├── RunLocked             another run of the same month is in progress   (environment)
    │   ├── DatabaseUnavailable   the database cannot be reached                 (environment)
    │   └── SchemaOutOfDate       the schema is behind this tfident; run `tfident db upgrade` (environment)
    ├── CannotResume              a run cannot be resumed: unknown, finished, or its inputs changed
    ├── RunStopped                the run was stopped from outside (SIGTERM)     (environment)
    └── NotFound                  a run, household or record id does not exist

    StopRun                       not an error: the runner ends a run whose result is already stored;
                                  ``tfident.pipeline`` catches it, it never leaves a run

``EnvironmentFault`` marks the errors of the machine rather than of the data (a database
that is down, a lock held by another run, a schema not yet upgraded, a stop signal). Only
``tfident.cli`` catches these: exit code 2 for bad input, 3 for the environment, 1 for a bug.
:data:`TRANSIENT` lists the faults worth retrying with backoff; bad data never is.

Every exception class of tfident is defined here or subclasses one defined here (a test
checks it). (*) ``RecordNotFound`` is defined in ``tfident.link.explanation``, which raises it.
The modules that raised the others import them from here, and their old homes
(``tfident.checkpoints.CannotResume``, ``tfident.runner.RunStopped``,
``tfident.store.review.DecisionRefused``) still name them.
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


class BatchRefused(ExtractError):
    """An inbox folder cannot be run: not complete, already processed, or older than the last published run."""


class DataCheckFailed(ExtractError):
    """The batch read, but failed one or more ``stop`` data checks (``tfident.ingest.checks``): nothing is
    published; the message lists every failed check with its source, file and what it found.
    """


class LinkageError(TfidentError):
    """Person linkage cannot proceed."""


class StoreError(TfidentError):
    """The database cannot be read or written as asked."""


class DecisionRefused(StoreError):
    """A decision that cannot follow the family's current status, or lacks what it needs."""


class ClaimRefused(StoreError):
    """A claim refused: the family already has one in the period, or a status change out of order."""


class EnvironmentFault(TfidentError):
    """The machine, not the data, stopped the run (exit code 3): the database, a lock, the schema."""


class RunLocked(StoreError, EnvironmentFault):
    """Another run of the same month holds the month's lock; the message names it."""

    def __init__(self, message: str, *, month: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.month = month
        self.holder = holder


class NotFound(TfidentError):
    """A run, household or record id does not exist."""


class DatabaseUnavailable(StoreError, EnvironmentFault):
    """The database cannot be reached (down, refusing connections, or its file cannot be opened)."""


class SchemaOutOfDate(StoreError, EnvironmentFault):
    """The database schema is behind this version of tfident; ``tfident db upgrade`` (as the owner) brings it up."""


class CannotResume(TfidentError):
    """A run cannot be resumed: it is unknown, finished, or its inputs changed since it started."""


class RunStopped(EnvironmentFault):
    """The run was stopped from outside (SIGTERM: a service stop, a cancelled deployment run)."""


class StopRun(Exception):  # not a TfidentError: it is no failure, and never reaches the command line
    """Raised by a run's start hook (``tfident.pipeline.StartHook``) when nothing more needs computing: the run
    is already stored with identical inputs. ``tfident.pipeline.execute_pipeline`` catches it.
    """


TRANSIENT: tuple[type[TfidentError], ...] = (DatabaseUnavailable, RunLocked)
"""Faults that may pass by themselves: an unattended run retries them with backoff."""


def exit_code(error: BaseException) -> int:
    """The command line's exit code for ``error``: 2 bad input, 3 environment, 1 a bug."""
    if isinstance(error, EnvironmentFault):
        return 3
    if isinstance(error, TfidentError):
        return 2
    return 1

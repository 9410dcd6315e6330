"""tfident: find the families a Troubled Families / Supporting Families team should work with.

The pipeline reads agency extracts (``tfident.ingest``), standardises them
(``tfident.standardise``), links person records (``tfident.link``), forms households
(``tfident.households``), applies the entry criteria (``tfident.criteria``), ranks the
candidates (``tfident.rank``) and stores everything (``tfident.store``).
``tfident.pipeline`` orders the stages; ``tfident.cli`` is the command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfident")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

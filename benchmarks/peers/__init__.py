"""The linkers of the linkage benchmark (``benchmarks.linkage``), each run in a child process.

``workers.run_linker`` is the child's entry point: it loads the prepared inputs of one
dataset from a work folder, runs one linker (:mod:`.tfident_linker`,
:mod:`.splink_competent`, :mod:`.splink_plain` or :mod:`.recordlinkage_plain`) with a wall-clock timer around
the linkage only, and writes the links and its own peak resident set back to the folder.
"""

"""The review app's pages, one router per page (wired together in :mod:`tfident.review.routes`)."""

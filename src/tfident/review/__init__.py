"""tfident.review: the coordinators' review web app (``tfident serve``).

* :mod:`~tfident.review.app`: ``create_app`` builds the FastAPI app around a store engine.
* :mod:`~tfident.review.routes`: the pages and forms, each behind one named permission.
* :mod:`~tfident.review.auth`: roles and permissions, CSRF, password checks.
* :mod:`~tfident.review.exports`: the panel list as XLSX and CSV.
* :mod:`~tfident.review.charts`: server-rendered SVG charts.

It reads and writes only through :mod:`tfident.store`.
"""

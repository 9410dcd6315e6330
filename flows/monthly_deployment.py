r"""Serve tfident's Prefect deployments (monthly run from an inbox folder, and retention).

A thin script over :mod:`tfident.flows.deployment` (``python -m tfident.flows.deployment``
does the same); see that module for the flags and environment variables::

    PREFECT_API_URL=http://prefect.example.internal:4200/api \
    TFIDENT_DATABASE_URL_FILE=/etc/tfident/database-url \
    .venv/bin/python flows/monthly_deployment.py --inbox /data/troubled-families/inbox
"""

from __future__ import annotations

from tfident.flows.deployment import main

if __name__ == "__main__":
    main()

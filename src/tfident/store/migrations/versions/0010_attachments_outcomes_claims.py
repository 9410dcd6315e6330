"""Attachments, outcome observations and claims: payment by results (issue 15 items 3 and 4).

``attachments`` (with ``attachment_members`` and ``entry_needs``) freeze a family and its
entry evidence when it is accepted; ``outcome_observations`` hold what each later run saw
of each need; ``claims`` (one per attachment and programme period), ``claim_families``
(the household ids of a claimed family's lineage, one claim per family and period across
merges and splits), ``claim_persons`` (a person in one claimed family per period) and
``claim_checks`` (internal-audit samples). None of them has a foreign key to ``runs``:
they are kept for the claims retention period, not the run retention.

Downgrading drops the tables.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "attachments",
        sa.Column("attachment_id", ID, autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("ruleset_id", sa.String(length=64), nullable=False),
        sa.Column("ruleset_version", sa.String(length=64), nullable=False),
        sa.Column("attached_on", sa.Date(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("lead_agency", sa.String(), nullable=True),
        sa.Column("worker", sa.String(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closure_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_household_id"), "attachments", ["household_id"], unique=False)
    op.create_table(
        "attachment_members",
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.attachment_id"],
            name=op.f("fk_attachment_members_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", "person_id", name=op.f("pk_attachment_members")),
    )
    op.create_table(
        "claims",
        sa.Column("claim_id", ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("prepared_by", sa.String(length=64), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audited_by", sa.String(length=64), nullable=True),
        sa.Column("audited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pack_html_sha256", sa.String(length=64), nullable=False),
        sa.Column("pack_xlsx_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "route IN ('tf1_results', 'tf1_ce', 'tf2_ssp', 'tf2_ce', 'sf_outcome')", name=op.f("ck_claims_route")
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'audited', 'submitted', 'paid', 'rejected', 'withdrawn')",
            name=op.f("ck_claims_status"),
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"], ["attachments.attachment_id"], name=op.f("fk_claims_attachment_id_attachments")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claims")),
        sa.UniqueConstraint("attachment_id", "period", name=op.f("uq_claims_attachment_id_period")),
    )
    op.create_table(
        "entry_needs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("need", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.String(), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("source_file_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.attachment_id"],
            name=op.f("fk_entry_needs_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_needs")),
    )
    op.create_index(op.f("ix_entry_needs_attachment_id"), "entry_needs", ["attachment_id"], unique=False)
    op.create_table(
        "outcome_observations",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("attachment_id", ID, nullable=False),
        sa.Column("need", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.attachment_id"],
            name=op.f("fk_outcome_observations_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "attachment_id", "need", "measure", name=op.f("pk_outcome_observations")),
    )
    op.create_table(
        "claim_checks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", ID, nullable=False),
        sa.Column("sample", sa.String(length=32), nullable=False),
        sa.Column("sample_seed", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_checks_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_checks")),
    )
    op.create_index(op.f("ix_claim_checks_claim_id"), "claim_checks", ["claim_id"], unique=False)
    op.create_table(
        "claim_families",
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.String(), nullable=False),
        sa.Column("claim_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_families_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("period", "household_id", name=op.f("pk_claim_families")),
    )

    op.create_table(
        "claim_persons",
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("claim_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_persons_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("period", "person_id", name=op.f("pk_claim_persons")),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("claim_persons")
    op.drop_table("claim_families")
    op.drop_index(op.f("ix_claim_checks_claim_id"), table_name="claim_checks")
    op.drop_table("claim_checks")
    op.drop_table("outcome_observations")
    op.drop_index(op.f("ix_entry_needs_attachment_id"), table_name="entry_needs")
    op.drop_table("entry_needs")
    op.drop_table("claims")
    op.drop_table("attachment_members")
    op.drop_index(op.f("ix_attachments_household_id"), table_name="attachments")
    op.drop_table("attachments")

"""Column helpers shared by the models."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def enum_type(enum: type[StrEnum], name: str | None = None) -> Enum:
    """Store a StrEnum as its value in a VARCHAR with a CHECK constraint (portable, no DDL type).

    ``name`` names the CHECK constraint; give one when a table has two columns of one enum.
    """
    return Enum(
        enum,
        name=name or enum.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )

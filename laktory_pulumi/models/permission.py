"""Access control entries."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import FieldError, Model, UpperCase, exactly_one

_PRINCIPALS = ("group_name", "user_name", "service_principal_name")


class Principal(Model):
    """Who an access control entry is for: exactly one of a group, a user or a service principal."""

    group_name: str | None = Field(default=None, description="A workspace or account group.")
    user_name: str | None = Field(default=None, description="A user's e-mail.")
    service_principal_name: str | None = Field(
        default=None, description="A service principal's application id."
    )

    @model_validator(mode="after")
    def _one_principal(self) -> Principal:
        exactly_one(self, *_PRINCIPALS)
        return self

    @property
    def principal_kind(self) -> str:
        """`group_name`, `user_name` or `service_principal_name`."""
        return next(name for name in _PRINCIPALS if getattr(self, name) is not None)

    @property
    def principal(self) -> str:
        """The principal's name; a stable key for resource names."""
        return getattr(self, self.principal_kind)


class PipelinePermission(Principal):
    """What a principal may do with a pipeline."""

    permission_level: Annotated[
        Literal["CAN_VIEW", "CAN_RUN", "CAN_MANAGE", "IS_OWNER"], UpperCase
    ] = Field(description="CAN_VIEW, CAN_RUN, CAN_MANAGE or IS_OWNER.")

    @model_validator(mode="after")
    def _owner_is_a_person(self) -> PipelinePermission:
        if self.permission_level == "IS_OWNER" and self.group_name is not None:
            raise FieldError(
                "permission_level", "IS_OWNER must be a user or a service principal, not a group"
            )
        return self


class ClusterPermission(Principal):
    """What a principal may do with a standalone cluster."""

    permission_level: Annotated[
        Literal["CAN_ATTACH_TO", "CAN_RESTART", "CAN_MANAGE"], UpperCase
    ] = Field(description="CAN_ATTACH_TO, CAN_RESTART or CAN_MANAGE.")

"""Access control entries, and who the platform lets receive what.

Workspace access control lists (pipelines, jobs, clusters, notebooks, files) refuse the
`admins` group: admins always hold full control there and the provider will not set it
("it is not possible to modify admin permissions", terraform-provider-databricks
`permissions/permission_definitions.go`, `validate`, line 125). Unity Catalog grants take
account-level principals only: the workspace's system groups `users` and `admins` are
workspace-local and receive no privilege (docs.databricks.com, "Unity Catalog privileges and
securable objects"; Databricks SQL reference, "Principal": `users` "is a workspace-local group"
to which Unity Catalog privileges cannot be granted, and workspace-local groups in general).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import FieldError, Model, UpperCase, exactly_one

_PRINCIPALS = ("group_name", "user_name", "service_principal_name")

ADMINS = "admins"
WORKSPACE_SYSTEM_GROUPS = frozenset({"users", ADMINS})
"""The workspace-local system groups: in every workspace, never in Unity Catalog."""


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


class AclEntry(Principal):
    """An entry of a workspace object's access control list."""

    @model_validator(mode="after")
    def _not_admins(self) -> AclEntry:
        # permission_definitions.go `validate`: `admins` is refused on pipelines, jobs, clusters,
        # notebooks and files (none sets allowConfiguringAdmins).
        if self.group_name == ADMINS:
            raise FieldError(
                "group_name",
                "'admins' always has full control of workspace objects and the platform refuses "
                "to set its permissions: remove this entry",
            )
        return self


def grant_principal_problem(principal: Principal) -> str | None:
    """Why `principal` cannot receive a Unity Catalog privilege, or None."""
    if principal.group_name in WORKSPACE_SYSTEM_GROUPS:
        return (
            f"'{principal.group_name}' is a workspace-local system group, which Unity Catalog "
            "cannot grant to: name an account group (e.g. 'account users')"
        )
    return None


class PipelinePermission(AclEntry):
    """What a principal may do with a pipeline."""

    permission_level: Annotated[
        Literal["CAN_VIEW", "CAN_RUN", "CAN_MANAGE", "IS_OWNER"], UpperCase
    ] = Field(
        description="CAN_VIEW, CAN_RUN or CAN_MANAGE. IS_OWNER is refused: the deploying "
        "identity owns the pipeline."
    )

    @model_validator(mode="after")
    def _no_owner(self) -> PipelinePermission:
        # The provider makes the deploying identity IS_OWNER when the list names none
        # (permission_definitions.go `addOwnerPermissionIfNeeded`, line 257). Naming the
        # deploying identity gives it CAN_READ on the notebooks and files, which the provider
        # refuses ("cannot remove management permissions for the current user", `validate`,
        # line 132); naming anyone else transfers the pipeline: the next `pulumi up` is refused
        # (403) and the pipeline runs as a principal this project granted no data access.
        if self.permission_level == "IS_OWNER":
            raise FieldError(
                "permission_level",
                "IS_OWNER is the deploying identity, set by the deploy; another owner would take "
                "the pipeline from it (the next deploy is refused and the pipeline runs as that "
                "principal): use CAN_MANAGE",
            )
        return self


class ClusterPermission(AclEntry):
    """What a principal may do with a standalone cluster."""

    permission_level: Annotated[
        Literal["CAN_ATTACH_TO", "CAN_RESTART", "CAN_MANAGE"], UpperCase
    ] = Field(description="CAN_ATTACH_TO, CAN_RESTART or CAN_MANAGE.")


class CatalogGrant(Principal):
    """One principal's complete privilege list on the pipeline's catalog (authoritative)."""

    privileges: list[Annotated[str, UpperCase]] = Field(
        min_length=1,
        description="Every privilege the principal holds on the catalog, e.g. `USE_CATALOG`: "
        "applying it removes any other privilege the principal had there, destroying the stack "
        "revokes them all.",
    )

    @model_validator(mode="after")
    def _privilege_names(self) -> CatalogGrant:
        # Unity Catalog spells privileges with underscores in its API (`USE_CATALOG`); SQL's
        # `USE CATALOG` is the same privilege.
        self.privileges = sorted({name.strip().replace(" ", "_") for name in self.privileges})
        return self

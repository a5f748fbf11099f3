"""Fields known by two names: ours and Laktory v0.0.22's.

A field declared with `validation_alias=AliasChoices(ours, laktory)` reads either name, but
pydantic's JSON Schema lists only the first. `schema_with_aliases` is a model's
`json_schema_extra`: it adds every other name as a property of its own, with the same schema,
so editors complete and check both spellings. `alias_of` says the alias in a description.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel


def alias_of(name: str) -> str:
    """The sentence a field's description ends with when Laktory spells it differently."""
    return f" Alias: `{name}` (Laktory v0.0.22's name)."


def alias_names(model: type[BaseModel]) -> dict[str, list[str]]:
    """Each field with validation aliases -> its other names, in declaration order."""
    names: dict[str, list[str]] = {}
    for field_name, field in model.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [choice for choice in alias.choices if isinstance(choice, str)]
            others = [choice for choice in choices if choice != field_name]
            if others:
                names[field_name] = others
    return names


def schema_with_aliases(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Add each alias as a property of `schema` (the model's own), as the field it names."""
    properties = schema.get("properties", {})
    for field_name, others in alias_names(model).items():
        if field_name not in properties:
            continue
        for other in others:
            copy = dict(properties[field_name])
            copy["description"] = f"Alias of `{field_name}`. " + copy.get("description", "")
            properties[other] = copy

"""Growing a kept event schema with the schema of newly landed files.

Auto Loader keeps the schema it inferred and, with `cloudFiles.schemaEvolutionMode:
addNewColumns` (its default), adds the columns later files bring (Databricks docs, "Configure
schema inference and evolution in Auto Loader",
https://docs.databricks.com/en/ingestion/cloud-object-storage/auto-loader/schema.html). Local
runs keep their schema the same way; `grow` is the merge:

- a field only in the new schema is appended (nullable), nested structs included;
- a field only in the kept schema stays: the schema is never narrowed;
- names are matched case-insensitively, as Spark resolves them by default
  (`spark.sql.caseSensitive=false`): `Amount` in a later file is the kept `amount`, never a
  second column (two columns differing only in case fail every later read with duplicate
  columns). The kept spelling stays;
- when both have the field with different types, a struct, array or map wins over a scalar (a
  string kept from a bad first file such as `{"data": "oops"}` gives way to the struct the good
  files hold). A kept scalar type never changes: addNewColumns adds columns and leaves types
  alone, a value of another type going to the rescued data column ("There is no change in
  schema evolution behavior for existing schema evolution modes", Databricks docs, "Automatic
  type widening with Auto Loader",
  https://docs.databricks.com/en/ingestion/cloud-object-storage/auto-loader/type-widening.html).
  Widening a stored column (long to double) would also fail the table's next write
  (CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE). Only `widen=True`, for files inferred together before
  any schema is kept, takes the wider number, as Spark's own inference over those files would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

_NUMERIC_WIDTH = {"byte": 1, "short": 2, "integer": 3, "long": 4, "float": 5, "double": 6}


def grow(kept: StructType, new: StructType, *, widen: bool = False) -> StructType:
    """`kept` with what `new` adds (see the module's docstring)."""
    from pyspark.sql.types import StructField, StructType

    by_name = {field.name.lower(): field for field in reversed(new.fields)}
    fields = []
    for field in kept.fields:
        other = by_name.pop(field.name.lower(), None)
        if other is None:
            fields.append(field)
            continue
        kind = richer(field.dataType, other.dataType, widen=widen)
        fields.append(StructField(field.name, kind, True))
    added: dict[str, StructField] = {}
    for field in new.fields:
        key = field.name.lower()
        if key in by_name and key not in added:
            added[key] = StructField(field.name, field.dataType, True)
    return StructType(fields + list(added.values()))


def richer(kept: DataType, new: DataType, *, widen: bool = False) -> DataType:
    """The type a column keeps when the kept schema and new files disagree."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if kept == new:
        return kept
    if isinstance(kept, StructType) and isinstance(new, StructType):
        return grow(kept, new, widen=widen)
    if isinstance(kept, ArrayType) and isinstance(new, ArrayType):
        return ArrayType(richer(kept.elementType, new.elementType, widen=widen), True)
    complex_types = (StructType, ArrayType, MapType)
    if isinstance(new, complex_types) and not isinstance(kept, complex_types):
        return new
    if widen:
        kept_width = _NUMERIC_WIDTH.get(kept.typeName())
        new_width = _NUMERIC_WIDTH.get(new.typeName())
        if kept_width is not None and new_width is not None and new_width > kept_width:
            return new
    return kept


def case_variants(kept: StructType, new: StructType, prefix: str = "") -> dict[str, str]:
    """Fields of `new` spelled otherwise than in `kept` (`data.Amount` -> `data.amount`), by
    their dotted path in `new`."""
    from pyspark.sql.types import StructType

    by_name = {field.name.lower(): field for field in kept.fields}
    variants: dict[str, str] = {}
    for field in new.fields:
        match = by_name.get(field.name.lower())
        if match is None:
            continue
        if match.name != field.name:
            variants[prefix + field.name] = prefix + match.name
        elif isinstance(match.dataType, StructType) and isinstance(field.dataType, StructType):
            variants.update(case_variants(match.dataType, field.dataType, f"{prefix}{field.name}."))
    return variants


def with_hints(schema: StructType, hinted: StructType | None) -> StructType:
    """`schema` with the hinted columns typed as hinted (`cloudFiles.schemaHints`).

    A hinted column the files do not hold (yet) is added; a hinted struct field is set inside
    its struct, the struct's other fields staying as inferred. Names match whatever their case,
    as in `grow`, and the schema's spelling stays.
    """
    from pyspark.sql.types import StructField, StructType

    if hinted is None:
        return schema
    by_name = {field.name.lower(): field for field in hinted.fields}
    fields = []
    for field in schema.fields:
        hint = by_name.pop(field.name.lower(), None)
        if hint is None:
            fields.append(field)
        elif isinstance(hint.dataType, StructType) and isinstance(field.dataType, StructType):
            fields.append(StructField(field.name, with_hints(field.dataType, hint.dataType), True))
        else:
            fields.append(StructField(field.name, hint.dataType, True))
    return StructType(fields + [hint for hint in hinted.fields if hint.name.lower() in by_name])

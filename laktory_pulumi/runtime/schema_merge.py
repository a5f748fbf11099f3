"""Growing a kept event schema with the schema of newly landed files.

Auto Loader keeps the schema it inferred and, with `cloudFiles.schemaEvolutionMode:
addNewColumns` (its default), adds the columns later files bring (Databricks docs, "Configure
schema inference and evolution in Auto Loader"). Local runs keep their schema the same way;
`grow` is the merge:

- a field only in the new schema is appended (nullable), nested structs included;
- a field only in the kept schema stays: the schema is never narrowed;
- when both have the field with different types, the richer wins: a struct, array or map over a
  scalar (a string kept from a bad first file such as `{"data": "oops"}` gives way to the struct
  the good files hold), a wider number over a narrower one, otherwise the kept type. The reader
  then rescues the odd value (PERMISSIVE mode) instead of the schema bending to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType

_NUMERIC_WIDTH = {"byte": 1, "short": 2, "integer": 3, "long": 4, "float": 5, "double": 6}


def grow(kept: StructType, new: StructType) -> StructType:
    """`kept` with what `new` adds (see the module's docstring)."""
    from pyspark.sql.types import StructField, StructType

    by_name = {field.name: field for field in new.fields}
    fields = []
    for field in kept.fields:
        other = by_name.pop(field.name, None)
        if other is None:
            fields.append(field)
            continue
        fields.append(StructField(field.name, richer(field.dataType, other.dataType), True))
    fields += [StructField(field.name, field.dataType, True) for field in by_name.values()]
    return StructType(fields)


def richer(kept: DataType, new: DataType) -> DataType:
    """The type a column keeps when the kept schema and new files disagree."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if kept == new:
        return kept
    if isinstance(kept, StructType) and isinstance(new, StructType):
        return grow(kept, new)
    if isinstance(kept, ArrayType) and isinstance(new, ArrayType):
        return ArrayType(richer(kept.elementType, new.elementType), True)
    complex_types = (StructType, ArrayType, MapType)
    if isinstance(new, complex_types) and not isinstance(kept, complex_types):
        return new
    kept_width = _NUMERIC_WIDTH.get(kept.typeName())
    new_width = _NUMERIC_WIDTH.get(new.typeName())
    if kept_width is not None and new_width is not None and new_width > kept_width:
        return new
    return kept

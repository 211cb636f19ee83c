"""The Piccolo Table classes are a view of the schema the SQL migrations create: they must agree.

For every table of the migrated test database: a Table class exists; its columns are exactly the
database's columns, with the same nullability, a matching type family and the same primary key.
"""
from __future__ import annotations

import pytest
from piccolo import columns as pc
from piccolo.columns.base import Column
from piccolo.table import Table

from server.core import db
from server.piccolo_app import APP_CONFIG

PICCOLO_OWN_TABLES = {"migration"}   # Piccolo's migration history, not ours

# Piccolo column class -> information_schema.columns.data_type values it may stand for.
# Looked up along the class's MRO, so subclasses (Char < Varchar, BigSerial < Serial) come first.
TYPE_FAMILIES: dict[type[Column], set[str]] = {
    pc.BigSerial: {"bigint"},
    pc.Serial: {"integer"},
    pc.BigInt: {"bigint"},
    pc.SmallInt: {"smallint"},
    pc.Integer: {"integer"},
    pc.Char: {"character"},
    # Varchar(length=n) is accepted over char(n) too (same text family; the length is checked below)
    pc.Varchar: {"character varying", "character"},
    pc.Text: {"text"},
    pc.Boolean: {"boolean"},
    pc.Timestamptz: {"timestamp with time zone"},
    pc.Timestamp: {"timestamp without time zone"},
    pc.Date: {"date"},
    pc.JSONB: {"jsonb"},
    pc.JSON: {"json"},
    pc.Bytea: {"bytea"},
    pc.DoublePrecision: {"double precision"},
    pc.Real: {"real"},
    pc.Numeric: {"numeric"},
    pc.UUID: {"uuid"},
    pc.Array: {"ARRAY"},
}
# Array element: Piccolo base column class -> information_schema udt_name of the array ("_text", ...)
ARRAY_UDT = {pc.Text: "_text", pc.Varchar: "_varchar", pc.BigInt: "_int8", pc.Integer: "_int4"}

TABLES: list[type[Table]] = sorted(APP_CONFIG.table_classes, key=lambda t: t._meta.tablename)


def family(column: Column) -> set[str]:
    for cls in type(column).__mro__:
        if cls in TYPE_FAMILIES:
            return TYPE_FAMILIES[cls]
    raise AssertionError(f"no type family known for {type(column).__name__}; add it to TYPE_FAMILIES")


def array_udt(column: pc.Array) -> str:
    for cls in type(column.base_column).__mro__:
        if cls in ARRAY_UDT:
            return ARRAY_UDT[cls]
    raise AssertionError(f"no array element type known for {type(column.base_column).__name__}")


async def db_columns(table: str) -> dict[str, dict]:
    rows = await db.fetch(
        """SELECT column_name, is_nullable, data_type, udt_name, character_maximum_length
             FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = $1""", table)
    return {r["column_name"]: dict(r) for r in rows}


async def db_primary_key(table: str) -> list[str]:
    rows = await db.fetch(
        """SELECT a.attname
             FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = ('public.' || quote_ident($1))::regclass AND i.indisprimary""", table)
    return sorted(r["attname"] for r in rows)


async def test_every_migrated_table_has_a_table_class(migrated):
    rows = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    in_db = {r["tablename"] for r in rows} - PICCOLO_OWN_TABLES
    classes = {t._meta.tablename for t in TABLES}
    assert in_db, "the migrations created no tables"
    assert sorted(in_db - classes) == [], "tables without a Piccolo Table class (add one in <domain>/tables.py)"
    assert sorted(classes - in_db) == [], "Table classes for tables the migrations do not create"


def test_table_classes_are_unique_per_table():
    names = [t._meta.tablename for t in TABLES]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t._meta.tablename)
async def test_table_class_matches_migrated_schema(migrated, table: type[Table]):
    name = table._meta.tablename
    actual = await db_columns(name)
    assert actual, f"table {name} does not exist in the migrated database"
    declared = {c._meta.db_column_name: c for c in table._meta.columns}

    assert sorted(declared) == sorted(actual), f"{name}: column names differ"

    problems = []
    for col_name, column in declared.items():
        info = actual[col_name]
        db_nullable = info["is_nullable"] == "YES"
        if column._meta.null != db_nullable:
            problems.append(f"{col_name}: null={column._meta.null} but the database says "
                            f"{'NULL' if db_nullable else 'NOT NULL'}")
        if info["data_type"] not in family(column):
            problems.append(f"{col_name}: {type(column).__name__} over a {info['data_type']} column")
        if isinstance(column, pc.Array) and info["data_type"] == "ARRAY" and info["udt_name"] != array_udt(column):
            problems.append(f"{col_name}: array of {type(column.base_column).__name__} over {info['udt_name']}")
        if isinstance(column, pc.Varchar) and column.length and info["character_maximum_length"] is not None \
                and column.length != info["character_maximum_length"]:
            problems.append(f"{col_name}: length {column.length} but the database says "
                            f"{info['character_maximum_length']}")
    assert problems == [], f"{name}: " + "; ".join(problems)

    pk = await db_primary_key(name)
    piccolo_pk = table._meta.primary_key._meta.db_column_name
    if len(pk) == 1:
        assert pk == [piccolo_pk], f"{name}: primary key is {pk}, the class says {piccolo_pk}"
    else:
        # composite keys: Piccolo has one primary-key column, which must be part of the real key
        assert piccolo_pk in pk, f"{name}: {piccolo_pk} is not part of the primary key {pk}"

"""JSON Schemas, the intake API's OpenAPI file and the Alembic migrations, as package data."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).parent
MIGRATIONS_DIR = SCHEMA_DIR / "migrations"

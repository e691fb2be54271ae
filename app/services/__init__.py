"""Use cases as plain functions: they receive their dependencies and import no Flask."""

from typing import Any, TypeAlias

from sqlalchemy.orm import Session, scoped_session

DbSession: TypeAlias = Session | scoped_session[Any]

"""Typed SQLAlchemy 2 models; import them from here."""

from app.models.admin import ROLES, Admin, Role
from app.models.types import UTCDateTime, utcnow

__all__ = ["ROLES", "Admin", "Role", "UTCDateTime", "utcnow"]

"""Typed SQLAlchemy 2 models; import them from here."""

from app.models.admin import ORIGINS, ROLES, Admin, PendingSignIn, Role, SignInSession
from app.models.api_key import VERIFY_RESULTS, ApiKey
from app.models.audit import AuditEvent
from app.models.connection import KINDS, Connection, PendingAuthorization
from app.models.ops import Lease, Notification
from app.models.service_client import (
    SCOPES,
    ServiceClient,
    ServiceClientCreation,
    ServiceClientGrant,
)
from app.models.types import MAX_ID, UTCDateTime, utcnow

__all__ = [
    "KINDS",
    "MAX_ID",
    "ORIGINS",
    "ROLES",
    "SCOPES",
    "VERIFY_RESULTS",
    "Admin",
    "ApiKey",
    "AuditEvent",
    "Connection",
    "Lease",
    "Notification",
    "PendingAuthorization",
    "PendingSignIn",
    "Role",
    "ServiceClient",
    "ServiceClientCreation",
    "ServiceClientGrant",
    "SignInSession",
    "UTCDateTime",
    "utcnow",
]

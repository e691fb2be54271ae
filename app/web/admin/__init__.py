"""The admin pages: one blueprint per page group."""

from flask_login import current_user

from app.services.audit import Actor


def current_actor() -> Actor:
    """The signed-in person, as the audit log names who did something."""
    return Actor.admin(current_user.id, current_user.email)

"""The identity provider's directory: a few people with emails, groups and a verified flag.

Chosen to show every access rule of the demo (domain `acme.example`, groups `connect-admins`
and `connect-viewers`): an admin, a viewer, a member of neither group, an unverified email
and someone outside the allowed domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IDP_CLIENT_ID = "factorial-connect-sso"
IDP_CLIENT_SECRET = "sandbox-sso-secret"  # noqa: S105 - a public demo secret, by design
IDP_REDIRECT_URIS = (
    "http://127.0.0.1:5000/auth/oidc/callback",
    "http://localhost:5000/auth/oidc/callback",
    "http://localhost/auth/oidc/callback",  # the Flask test client's own host
)


@dataclass
class Person:
    sub: str
    name: str
    email: str
    groups: list[str] = field(default_factory=list)
    email_verified: bool | None = True  # None: the claim is left out

    def claims(self) -> dict[str, object]:
        claims: dict[str, object] = {
            "sub": self.sub,
            "name": self.name,
            "email": self.email,
            "groups": list(self.groups),
        }
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        return claims


def directory() -> dict[str, Person]:
    """A fresh copy of the seeded people, by subject."""
    people = [
        Person("idp-ana", "Ana García", "ana@acme.example", ["connect-admins", "staff"]),
        Person("idp-bruno", "Bruno López", "bruno@acme.example", ["connect-viewers", "staff"]),
        Person("idp-carla", "Carla Martín", "carla@acme.example", ["staff"]),
        Person("idp-dora", "Dora Unverified", "dora@acme.example", ["connect-admins"], False),
        Person("idp-mallory", "Mallory Outsider", "mallory@elsewhere.example", ["connect-admins"]),
    ]
    return {p.sub: p for p in people}

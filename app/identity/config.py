"""The identity provider's settings (OIDC_*) and PASSWORD_LOGIN, read for `app.infra.settings`;
every problem is one line, and the client secret is never quoted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SANDBOX_IDP_CLIENT_ID = "factorial-connect-sso"
SANDBOX_IDP_CLIENT_SECRET = "sandbox-sso-secret"  # noqa: S105 - the sandbox IdP's public demo secret
DEFAULT_OIDC_SCOPES = "openid email profile"


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in through the company's OpenID Connect identity provider, and who may enter.

    With `groups_claim` set, the groups decide the role at every sign-in (admin before viewer)
    and someone in neither list is refused; without it, `allowed_domains` alone admits people
    and a new account starts as a viewer."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...]
    provider_name: str
    allowed_domains: tuple[str, ...] = ()
    groups_claim: str = ""
    admin_groups: tuple[str, ...] = ()
    viewer_groups: tuple[str, ...] = ()

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


def _words(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.replace(",", " ").split() if part)


OIDC_RULES = (
    "OIDC_ALLOWED_DOMAINS",
    "OIDC_GROUPS_CLAIM",
    "OIDC_ADMIN_GROUPS",
    "OIDC_VIEWER_GROUPS",
)
OIDC_NAMES = (
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_SCOPES",
    "OIDC_PROVIDER_NAME",
    *OIDC_RULES,
)


def oidc_demo_defaults(env: dict[str, str], sandbox_url: str) -> None:
    """APP_ENV=demo signs in through the sandbox's identity provider (wherever the demo's
    sandbox runs) unless told otherwise."""
    if any(env.get(name, "").strip() for name in ("OIDC_ISSUER", *OIDC_NAMES)):
        return
    sandbox = sandbox_url.rstrip("/")
    env.update(
        OIDC_ISSUER=f"{sandbox}/oidc",
        OIDC_CLIENT_ID=SANDBOX_IDP_CLIENT_ID,
        OIDC_CLIENT_SECRET=SANDBOX_IDP_CLIENT_SECRET,
        OIDC_PROVIDER_NAME="the sandbox identity provider",
        OIDC_ALLOWED_DOMAINS="acme.example",
        OIDC_GROUPS_CLAIM="groups",
        OIDC_ADMIN_GROUPS="connect-admins",
        OIDC_VIEWER_GROUPS="connect-viewers",
    )


def oidc_from_env(
    env: Mapping[str, str], production: bool, problems: list[str]
) -> OidcSettings | None:
    """The identity provider's settings, or None when OIDC_ISSUER is unset; one line per
    problem (the client secret is never quoted)."""
    issuer = env.get("OIDC_ISSUER", "").strip().rstrip("/")
    if not issuer:
        stray = [name for name in OIDC_NAMES if env.get(name, "").strip()]
        if stray:
            problems.append(f"{stray[0]} is set but OIDC_ISSUER is not; set both or neither")
        return None
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        problems.append("OIDC_ISSUER must be an https:// URL without query or fragment")
    elif parts.scheme != "https" and production:
        problems.append("OIDC_ISSUER must be an https:// URL in production")
    settings = OidcSettings(
        issuer=issuer,
        client_id=env.get("OIDC_CLIENT_ID", "").strip(),
        client_secret=env.get("OIDC_CLIENT_SECRET", "").strip(),
        scopes=_words(env.get("OIDC_SCOPES", "")) or _words(DEFAULT_OIDC_SCOPES),
        provider_name=env.get("OIDC_PROVIDER_NAME", "").strip()[:60] or parts.netloc or "SSO",
        allowed_domains=tuple(d.lower().lstrip("@") for d in _words(env.get(OIDC_RULES[0], ""))),
        groups_claim=env.get("OIDC_GROUPS_CLAIM", "").strip(),
        admin_groups=_words(env.get("OIDC_ADMIN_GROUPS", "")),
        viewer_groups=_words(env.get("OIDC_VIEWER_GROUPS", "")),
    )
    problems.extend(_oidc_problems(settings))
    return settings


def _oidc_problems(o: OidcSettings) -> list[str]:
    problems = []
    if not o.client_id:
        problems.append("OIDC_CLIENT_ID is required with OIDC_ISSUER")
    if not o.client_secret:
        problems.append("OIDC_CLIENT_SECRET is required with OIDC_ISSUER")
    if "openid" not in o.scopes:
        problems.append("OIDC_SCOPES must include openid")
    if not o.allowed_domains and not o.groups_claim:
        problems.append(
            "OIDC_ALLOWED_DOMAINS or OIDC_GROUPS_CLAIM is required: say who may sign in"
        )
    if o.groups_claim and not (o.admin_groups or o.viewer_groups):
        problems.append("OIDC_GROUPS_CLAIM needs OIDC_ADMIN_GROUPS or OIDC_VIEWER_GROUPS")
    if not o.groups_claim and (o.admin_groups or o.viewer_groups):
        problems.append("OIDC_ADMIN_GROUPS and OIDC_VIEWER_GROUPS need OIDC_GROUPS_CLAIM")
    return problems


def password_login(env: Mapping[str, str], oidc: OidcSettings | None, problems: list[str]) -> bool:
    raw = env.get("PASSWORD_LOGIN", "").strip().lower() or "on"
    if raw not in ("on", "off"):
        problems.append(f"PASSWORD_LOGIN must be on or off, got {raw[:20]!r}")
        return True
    if raw == "off" and oidc is None:
        problems.append("PASSWORD_LOGIN=off needs OIDC_ISSUER (otherwise only break-glass admins)")
    return raw == "on"

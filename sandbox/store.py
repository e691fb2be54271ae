"""Process-wide sandbox state: database, clock, lock, and the demo seed.

SQLite (file or `:memory:`) sits behind one shared connection (StaticPool) and every
request's database work runs under `Sandbox.lock`, so the threaded server never interleaves
two transactions on that connection.

A file database outlives the process: a sandbox started on a file an earlier one left behind
resumes it (grants, tokens, codes, API keys, the seeded keys and the clock offset), so a demo
restart keeps every connection alive. Faults, counts, rate-limit windows and settings changed
through the control API live in memory and start over; `POST /_sandbox/reset` reseeds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from sandbox.config import RuntimeSettings, SandboxConfig
from sandbox.faults import FaultBook, RequestCounts
from sandbox.models import ApiKey, Base, Company, Employee, Grant, SandboxState
from sandbox.ratelimit import SlidingWindowLimiter

COMPANIES: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Acme Robotics",
        "legal_name": "Acme Robotics S.L.",
        "locale": "es",
        "subscription_plan": "enterprise",
    },
    {
        "id": 2,
        "name": "Nimbus Foods",
        "legal_name": "Nimbus Foods GmbH",
        "locale": "de",
        "subscription_plan": "business",
    },
]
EMPLOYEES: list[tuple[int, int, str, str, bool]] = [
    (1001, 1, "Ana", "García", True),
    (1002, 1, "Bruno", "López", False),
    (1003, 1, "Carla", "Martín", False),
    (2001, 2, "Dieter", "Schmidt", True),
    (2002, 2, "Eva", "Weber", False),
    (2003, 2, "Felix", "Braun", False),
]


@dataclass
class Clock:
    """The sandbox's "now": the real clock shifted by `offset` seconds."""

    offset: float = 0.0

    def now(self) -> int:
        return int(self.exact())

    def exact(self) -> float:
        return time.time() + self.offset


@dataclass
class Sandbox:
    """Everything one app instance owns; lives in `app.extensions["sandbox"]`."""

    config: SandboxConfig
    engine: Engine
    sessions: sessionmaker[Session]
    settings: RuntimeSettings
    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    seeded_keys: list[dict[str, Any]] = field(default_factory=list)
    leave_seq: int = 0
    faults: FaultBook = field(default_factory=FaultBook)
    counts: RequestCounts = field(default_factory=RequestCounts)
    limiter: SlidingWindowLimiter = field(default_factory=SlidingWindowLimiter)
    #: authlib AuthorizationServer and ResourceProtector, attached by `create_app`
    server: Any = None
    protector: Any = None
    #: the OpenID Connect identity provider's state (`sandbox.idp.IdentityProvider`)
    idp: Any = None
    #: one line on how this process found its database: seeded fresh, or resumed and why
    origin: str = ""

    def reseed(self) -> None:
        """Drop every table, recreate them and insert the demo data; call under `lock`."""
        Base.metadata.drop_all(self.engine)
        Base.metadata.create_all(self.engine)
        self.settings = replace(self.config.settings)
        self.clock.offset = 0.0
        self.seeded_keys = []
        with self.sessions() as session:
            _seed_people(session)
            for company in COMPANIES:
                key, token = mint_api_key(session, company["id"], "Seeded key", self.clock.now())
                self.seeded_keys.append(
                    {"id": key.id, "company_id": company["id"], "name": key.name, "token": token}
                )
            session.add(
                SandboxState(
                    id=1,
                    schema=schema_fingerprint(),
                    clock_offset=0.0,
                    seeded_keys=json.dumps(self.seeded_keys),
                    seeded_at=self.clock.now(),
                )
            )
            session.commit()

    def resume(self, state: SandboxState) -> str:
        """Take up where the process that wrote `state` stopped; returns what it found."""
        self.clock.offset = state.clock_offset
        self.seeded_keys = json.loads(state.seeded_keys)
        with self.sessions() as session:
            grants = session.scalar(select(func.count(Grant.id)).where(Grant.revoked_at.is_(None)))
            keys = session.scalar(select(func.count(ApiKey.id)))
        return f"{grants} live grant(s), {keys} API key(s)"

    def set_clock_offset(self, session: Session, offset: float) -> None:
        """Move the sandbox's "now", in memory and in the saved state (so a restart keeps it)."""
        self.clock.offset = offset
        session.execute(update(SandboxState).values(clock_offset=offset))


def schema_fingerprint() -> str:
    """Changes whenever a sandbox table or column does: a saved file from before is not reused."""
    tables = Base.metadata.sorted_tables
    columns = "\n".join(f"{t.name}.{c.name}:{c.type}" for t in tables for c in t.columns)
    return hashlib.sha256(columns.encode()).hexdigest()[:32]


def open_sandbox(config: SandboxConfig) -> Sandbox:
    """Create the engine; resume a file database an earlier sandbox left, else seed afresh."""
    url = "sqlite://" if config.db == ":memory:" else f"sqlite:///{config.db}"
    engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    sandbox = Sandbox(
        config=config,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        settings=replace(config.settings),
    )
    with sandbox.lock:
        if config.db == ":memory:":
            sandbox.reseed()
            sandbox.origin = "in-memory database, seeded fresh (nothing is kept when it stops)"
            return sandbox
        state = _saved_state(sandbox)
        if isinstance(state, SandboxState):
            found = sandbox.resume(state)
            sandbox.origin = f"resumed {config.db} ({found}); earlier tokens and keys still work"
        else:
            sandbox.reseed()
            sandbox.origin = f"started fresh on {config.db} ({state}), seeded"
    return sandbox


class ForeignDatabase(ValueError):
    """The file holds tables that are not the sandbox's: never drop them to seed it."""


def _saved_state(sandbox: Sandbox) -> SandboxState | str:
    """The state row a file database holds, or why the file cannot be resumed."""
    tables = inspect(sandbox.engine).get_table_names()
    if not tables:
        return "a new database"
    foreign = sorted(set(tables) - set(Base.metadata.tables))
    if foreign:
        raise ForeignDatabase(
            f"it holds tables that are not the sandbox's ({', '.join(foreign)}); "
            "give the sandbox a file of its own"
        )
    if SandboxState.__tablename__ not in tables:
        return "no saved sandbox state in it"
    with sandbox.sessions() as session:
        state = session.get(SandboxState, 1)
    if state is None:
        return "no saved sandbox state in it"
    if state.schema != schema_fingerprint():
        return "saved by another version of the sandbox"
    return state


def _seed_people(session: Session) -> None:
    for company in COMPANIES:
        slug = company["name"].split()[0].lower()
        session.add(Company(logo=f"https://example.invalid/logos/{slug}.png", **company))
    session.flush()
    for emp_id, company_id, first, last, admin in EMPLOYEES:
        domain = COMPANIES[company_id - 1]["name"].split()[0].lower()
        email = f"{_ascii(first).lower()}.{_ascii(last).lower()}@{domain}.example"
        session.add(
            Employee(
                id=emp_id,
                company_id=company_id,
                first_name=first,
                last_name=last,
                email=email,
                is_admin=admin,
            )
        )


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("áéíóúüñ", "aeiouun"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def digest(token: str) -> str:
    """Only this digest of an API key is stored, never the key itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint_api_key(session: Session, company_id: int, name: str, now: int) -> tuple[ApiKey, str]:
    """Create a JWT-looking key (header.payload.random) and store its digest."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(
        json.dumps(
            {"company_id": company_id, "jti": secrets.token_hex(16), "iat": now},
            separators=(",", ":"),
        ).encode()
    )
    token = f"{header}.{payload}.{_b64(secrets.token_bytes(32))}"
    key = ApiKey(company_id=company_id, name=name, token_digest=digest(token), created_at=now)
    session.add(key)
    session.flush()
    return key, token

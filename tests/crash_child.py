"""A process that starts a refresh and freezes at a chosen point, to be killed with SIGKILL.

`point` is `before_call` (attempt recorded, nothing sent) or `after_answer` (Factorial has
rotated the tokens, nothing stored yet). It prints PAUSED when frozen.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from app import create_app
from app.infra.extensions import db
from app.models import utcnow
from app.refresh import protocol
from app.refresh.policy import RefreshPolicy
from app.services import notify
from app.services.deps import Deps
from app.wiring import wiring


class FreezingClient:
    """The real client, frozen before or after its refresh call."""

    def __init__(self, real: Any, point: str) -> None:
        self.real, self.point = real, point

    def __enter__(self) -> FreezingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.real.close()

    def freeze(self) -> None:
        print("PAUSED", flush=True)
        time.sleep(3600)

    def refresh(self, refresh_token: str) -> Any:
        if self.point == "before_call":
            self.freeze()
        answer = self.real.refresh(refresh_token)
        self.freeze()
        return answer


def main() -> None:
    app = create_app(json.loads(os.environ["CHILD_SETTINGS"]))
    connection_id, point = int(sys.argv[1]), sys.argv[2]
    real = wiring(app).deps.clients
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        deps = Deps(
            lambda environment: FreezingClient(real(environment), point),  # type: ignore[arg-type,return-value]
            utcnow,
            RefreshPolicy(lease=timedelta(seconds=1)),
            notify.Notifier(),
        )
        protocol.refresh_connection(session, connection_id, deps, force=True)


if __name__ == "__main__":
    main()

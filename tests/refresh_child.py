"""A separate process of callers for the cross-process single-flight test.

Reads a line per round on stdin; each round starts THREADS threads that ask for a fresh token
at once, and prints one JSON line: [[outcome, sha256-prefix of the token they got], ...].
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from app import create_app
from app.infra.extensions import db
from app.models import utcnow
from app.refresh import waiting
from app.refresh.policy import RefreshPolicy
from app.services import notify
from app.services.deps import Deps
from app.wiring import wiring


def main() -> None:
    app = create_app(json.loads(os.environ["CHILD_SETTINGS"]))
    connection_id, threads = int(sys.argv[1]), int(sys.argv[2])
    deps = Deps(wiring(app).deps.clients, utcnow, RefreshPolicy(), notify.Notifier(), wait=30)
    with app.app_context():
        engine = db.engine
    barrier = threading.Barrier(threads)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        results: list[list[str]] = []

        def ask(results: list[list[str]] = results) -> None:
            barrier.wait()
            with Session(engine) as session:
                connection, outcome = waiting.fresh_token(session, connection_id, deps)
                token = (
                    connection.access_token.reveal()
                    if connection and connection.access_token
                    else ""
                )
                results.append([outcome.result, hashlib.sha256(token.encode()).hexdigest()[:16]])

        workers = [threading.Thread(target=ask) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()

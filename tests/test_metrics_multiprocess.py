"""With PROMETHEUS_MULTIPROC_DIR set, one worker's scrape sums every worker's observations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
WORKER = "from app.infra import metrics; metrics.record_vend('ok'); metrics.observe_sweep(1.5)"
SCRAPER = """
import sys
from datetime import timedelta
from prometheus_client import generate_latest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from app.infra.metrics import registry_for
from app.web.metrics import DatabaseCollector
from app.models import utcnow

engine = create_engine("sqlite:///" + sys.argv[1])
collector = DatabaseCollector(lambda: Session(engine), utcnow, timedelta(minutes=10))
sys.stdout.write(generate_latest(registry_for(collector)).decode())
"""


def run(code: str, folder: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
def test_scrape_sums_every_worker(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    run(WORKER, shared)
    run(WORKER, shared)
    text = run(SCRAPER, shared, str(tmp_path / "missing" / "db.sqlite3"))
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert (
        found[("factorial_connect_vends_total", (("outcome", "ok"),))],
        found[("factorial_connect_sweep_duration_seconds_count", ())],
    ) == (2.0, 2.0)

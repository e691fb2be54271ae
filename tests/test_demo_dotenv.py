"""`flask demo dotenv` (run by `make run`): its own .env follows the demo; anyone else's .env is
only read, and what it lacks is printed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from app.cli.demo import DOTENV_MARK, demo_dotenv

DEMO = ["APP_ENV=demo", "FACTORIAL_DEMO_BASE_URL=http://127.0.0.1:5001"]


def dotenv(path: Path, *pairs: str) -> Result:
    return CliRunner().invoke(demo_dotenv, [*pairs, "--path", str(path)])


def test_writes_a_missing_dotenv(tmp_path: Path) -> None:
    dotenv(tmp_path / ".env", *DEMO)
    assert (tmp_path / ".env").read_text() == "\n".join([DOTENV_MARK, *DEMO]) + "\n"


def test_says_it_wrote_the_dotenv(tmp_path: Path) -> None:
    assert dotenv(tmp_path / ".env", *DEMO).output.startswith(f"Wrote {tmp_path / '.env'} (APP_ENV")


def test_updates_its_own_dotenv_and_keeps_added_lines(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    dotenv(path, *DEMO)
    path.write_text(path.read_text() + "LOG_LEVEL=DEBUG\n")
    dotenv(path, "APP_ENV=demo", "FACTORIAL_DEMO_BASE_URL=http://127.0.0.1:5601")
    assert path.read_text().splitlines()[1:] == [
        "APP_ENV=demo",
        "FACTORIAL_DEMO_BASE_URL=http://127.0.0.1:5601",
        "LOG_LEVEL=DEBUG",
    ]


def test_says_nothing_when_its_own_dotenv_is_current(tmp_path: Path) -> None:
    dotenv(tmp_path / ".env", *DEMO)
    assert dotenv(tmp_path / ".env", *DEMO).output == ""


def test_leaves_someone_elses_dotenv_alone(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("SECRET_KEY=mine\n")
    dotenv(path, *DEMO)
    assert path.read_text() == "SECRET_KEY=mine\n"


def test_lists_what_someone_elses_dotenv_lacks(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('APP_ENV="demo"\nFACTORIAL_DEMO_BASE_URL=https://elsewhere.example\n')
    lines = dotenv(path, *DEMO).output.splitlines()
    assert lines[-1:] == ["    FACTORIAL_DEMO_BASE_URL=http://127.0.0.1:5001"]


def test_says_nothing_when_someone_elses_dotenv_has_the_demo(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# mine\nexport APP_ENV=demo\nFACTORIAL_DEMO_BASE_URL=http://127.0.0.1:5001\n")
    assert dotenv(path, *DEMO).output == ""


def test_refuses_a_pair_without_a_name(tmp_path: Path) -> None:
    result = dotenv(tmp_path / ".env", "=demo")
    assert (result.exit_code, "'=demo' is not NAME=VALUE" in result.output) == (2, True)

"""The design's import direction, read from the source: web → services → infra, and the token
lifecycle and the Factorial client import no web framework and nothing that wires the app."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def within(*packages: str) -> tuple[str, ...]:
    """Patterns naming each package and everything inside it."""
    return tuple(pattern for p in packages for pattern in (p, f"{p}.*"))


WEB_FRAMEWORK = (*within("flask", "werkzeug"), "flask_*")
COMPOSITION = (
    *within("app.web", "app.cli", "app.wiring", "app.bootstrap"),
    "app",
    "app.create_app",
)


@dataclass(frozen=True)
class Rule:
    """Imports matching `forbidden` (fnmatch on dotted names) and no `allowed` are violations."""

    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()

    def breaks(self, name: str) -> bool:
        return any(fnmatch(name, p) for p in self.forbidden) and not any(
            fnmatch(name, p) for p in self.allowed
        )


NO_WEB = Rule(WEB_FRAMEWORK + COMPOSITION)
ONLY_SETTINGS = Rule(within("app"), allowed=within("app.factorial", "app.infra.settings"))
BELOW_SERVICES = Rule(within("app.services", "app.refresh", "app.web"))

LAYERS = [
    ("app/services", NO_WEB),
    ("app/refresh", NO_WEB),
    ("app/factorial", NO_WEB),
    ("app/identity", NO_WEB),
    ("app/factorial", ONLY_SETTINGS),
    ("app/infra", BELOW_SERVICES),
]


def module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The dotted module a `from` import names, relative levels resolved against `module`."""
    base = module.split(".")
    anchor = base[: len(base) - node.level + (1 if is_package else 0)] if node.level else []
    return ".".join([*anchor, *([node.module] if node.module else [])])


def imported_names(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in the file, lazy and TYPE_CHECKING ones too;
    `from a import b` yields `a.b`, so a name taken from a package counts as that package's."""
    module = module_of(path, root)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        match node:
            case ast.Import(names=aliases):
                yield from ((node.lineno, alias.name) for alias in aliases)
            case ast.ImportFrom(names=aliases):
                source = absolute(node, module, path.name == "__init__.py")
                yield from ((node.lineno, f"{source}.{alias.name}") for alias in aliases)


def violations(folder: Path, rule: Rule, root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in sorted(folder.rglob("*.py"))
        for line, name in imported_names(path, root)
        if rule.breaks(name)
    ]


@pytest.mark.parametrize(
    ("folder", "rule"),
    LAYERS,
    ids=["services", "refresh", "factorial", "identity", "factorial-ours", "infra"],
)
def test_imports_point_down(folder: str, rule: Rule) -> None:
    found = violations(ROOT / folder, rule)
    assert found == [], "\n".join(found)


def test_the_check_sees_relative_lazy_and_framework_imports(tmp_path: Path) -> None:
    package = tmp_path / "app" / "services"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .. import create_app\n")
    (package / "use_case.py").write_text(
        "from ..web.api import routes\n\ndef run():\n    import flask_login\n"
    )
    found = violations(tmp_path / "app", NO_WEB, root=tmp_path)
    assert found == [
        "app/services/__init__.py:1 imports app.create_app",
        "app/services/use_case.py:1 imports app.web.api.routes",
        "app/services/use_case.py:4 imports flask_login",
    ]


def test_the_factorial_client_may_import_settings_types_and_itself() -> None:
    assert not ONLY_SETTINGS.breaks("app.factorial.errors.RateLimited")
    assert not ONLY_SETTINGS.breaks("app.infra.settings.FactorialEnvironment")
    assert ONLY_SETTINGS.breaks("app.infra.crypto.Secret")

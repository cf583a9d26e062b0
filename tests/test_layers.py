"""The arrows between packages run one way (docs/architecture.md): checked on the source, every import statement
counted, those under `if TYPE_CHECKING:` and inside functions too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an `import` or `from ... import` in `source` names; relative imports resolved from `package`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no source in {package}/"
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path.read_text(), ".".join(path.relative_to(ROOT).parts[:-1])))
        if module.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # The ports and HTTP clients never know the simulators: the simulators implement the ports
        # (simulators/inprocess.py) and the composition root (workers/composition.py) picks one or the other.
        ("adapters", ("simulators",)),
        # A workflow's payloads are the platform's contracts, never a partner's wire format; it does no I/O.
        ("workflows", ("adapters", "simulators")),
    ],
)
def test_imports_run_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    assert violations(package, forbidden) == []


def test_the_check_sees_every_kind_of_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from simulators.world import SimWorld\n"
        "def f():\n"
        "    import adapters.payment\n"
        "from .. import simulators\n"
    )
    modules = imported_modules(source, "pkg.sub")
    assert {"simulators.world", "adapters.payment", "pkg.simulators"} <= modules


def test_a_top_level_relative_import_names_the_sibling() -> None:
    assert "adapters.errors" in imported_modules("from .errors import PartnerError\n", "adapters")

"""Every .bicep file under infra/ parses with tree-sitter-bicep: no ERROR, no MISSING node."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep_model import INFRA, MAIN, REPO, BicepFile, parse, syntax_errors

BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def test_the_templates_exist() -> None:
    assert MAIN in BICEP_FILES
    assert any(p.parent.name == "modules" for p in BICEP_FILES), "no infra/modules/*.bicep"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_parses_without_errors(path: Path) -> None:
    tree = parse(path.read_bytes())
    assert syntax_errors(tree) == [], f"{path.relative_to(REPO)} has syntax errors"
    assert not tree.root_node.has_error


@pytest.mark.parametrize(
    "broken",
    [
        b"param name string =\n",  # missing value
        b"resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n",
        b"var x = [...y]\n",  # syntax the grammar (and so these checks) doesn't accept
    ],
)
def test_the_check_catches_broken_bicep(broken: bytes) -> None:
    assert syntax_errors(parse(broken)), "the syntax check would not notice a broken file"


def test_every_module_reference_resolves_to_a_file() -> None:
    for path in BICEP_FILES:
        for module in BicepFile.load(path).modules.values():
            assert module.path.is_file(), f"{path.name}: module {module.name} -> {module.path}"


def test_every_module_is_used() -> None:
    used = {MAIN.resolve()}
    for path in BICEP_FILES:
        used |= {m.path for m in BicepFile.load(path).modules.values()}
    unused = [p.relative_to(REPO) for p in BICEP_FILES if p.resolve() not in used]
    assert not unused, f"modules nothing deploys: {unused}"

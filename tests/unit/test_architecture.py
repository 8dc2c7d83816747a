"""Data flows one way: adapters -> flows -> faq / storage. Checked on the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "flows": {"aiogram", "bot"},
    "faq": {"aiogram", "bot", "flows", "storage"},
    "storage": {"aiogram", "bot", "flows"},
    "locales": {"aiogram", "bot", "flows", "storage"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_faq_matcher_knows_the_faq_only() -> None:
    """Urgency and small talk are read beside the matcher (`faq.understanding`), not inside
    it: the matcher imports neither, and the conversation reads messages through the
    understanding alone."""
    tree = ast.parse((ROOT / "faq" / "matcher.py").read_text(encoding="utf-8"))
    modules = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert modules.isdisjoint({"faq.urgent", "faq.urgency", "faq.smalltalk"})
    for path in (ROOT / "flows").rglob("*.py"):
        assert ".matcher." not in path.read_text(encoding="utf-8"), path


def test_every_step_is_declared_once_in_the_registry() -> None:
    """Each step of the conversation has its prompt, text and buttons in one declaration."""
    from flows.dispatch import REGISTRY  # importing the dispatcher declares every conversation

    assert REGISTRY.missing() == []


def test_the_engine_only_orchestrates() -> None:
    """Conversations live in flows/conversations/, one module each; the engine stays short."""
    engine = ROOT / "flows" / "engine.py"
    source = engine.read_text(encoding="utf-8")
    assert len(source.splitlines()) < 300
    modules = {
        node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
    }
    assert not any(m and m.startswith("flows.conversations") for m in modules), modules


@pytest.mark.parametrize("package", ["flows", "storage"])
def test_functions_are_short_enough_to_read_at_once(package: str) -> None:
    """No function in the flows or in storage is longer than 60 lines (complexity: ruff C901)."""
    long = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = length
    assert long == {}


def test_storage_and_flows_agree_on_the_step_of_a_newcomer() -> None:
    """Storage keeps steps as strings; a person it has no state for is at the flows' first."""
    from flows.state import Step
    from storage.repositories import NOT_STARTED

    assert Step.stored(NOT_STARTED) is Step.NEW


def test_messenger_alone_does_not_load_aiogram() -> None:
    """Importing aiogram costs a process about 130 MB of memory (its Telegram types' schemas):
    a deployment with Messenger only runs without it (`python -m bot run --webhook`)."""
    import subprocess
    import sys

    probe = (
        "import sys; import bot.cli, bot.app, bot.upkeep, bot.web, bot.meta.factory, "
        "bot.meta.webhook, bot.meta.outbox, bot.meta.render; "
        "print(sorted(m for m in sys.modules if m.startswith(('aiogram', 'bot.telegram'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert loaded.stdout.strip() == "[]"

"""Reading YAML once and fast: libyaml's C parser when PyYAML has it, line numbers kept.

Start-up reads about 40 YAML files (topics, urgent phrases, offices, stopwords); the
pure-Python parser spent most of the bot's start-up there, twice per file (once for the node
tree that gives `file:line` in error messages, once for the data).
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor

LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The node tree, with line and column marks.

    A file that does not parse is parsed again by the pure-Python parser, whose error messages
    and positions are the ones coordinators see in `faq check` (and in docs/coordinators.md).
    """
    try:
        return yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError:
        if LOADER is yaml.SafeLoader:
            raise
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data built from it, from one parse (safe types only)."""
    node = compose(text)
    if node is None:
        return None, None
    return node, SafeConstructor().construct_document(node)


def load(text: str) -> Any:
    """The data only (safe types only)."""
    try:
        return yaml.load(text, Loader=LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        if LOADER is yaml.SafeLoader:
            raise
    return yaml.safe_load(text)

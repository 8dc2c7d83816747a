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


def explain(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, int, str]:
    """Where a YAML file is broken and what to do, in words a coordinator understands.

    Returns (1-based line, 1-based column or 0, message). The parser's own words ("expected
    <block end>, but found '<block mapping start>'") say how it failed, not what is wrong; the
    common mistakes are recognised from the text around the place it failed.
    """
    lines = text.split("\n")
    mark = exc.problem_mark or exc.context_mark
    line = mark.line if mark else 0
    column = mark.column if mark else 0
    problem = exc.problem or ""
    context = exc.context or ""

    def indent(index: int) -> int:
        row = lines[index] if 0 <= index < len(lines) else ""
        return len(row) - len(row.lstrip(" "))

    def above(index: int) -> int:
        """The index of the nearest non-blank, non-comment line above `index`."""
        for i in range(index - 1, -1, -1):
            stripped = lines[i].strip()
            if stripped and not stripped.startswith("#"):
                return i
        return -1

    row = lines[line] if line < len(lines) else ""
    if "\t" in problem or (row[: column + 1].strip(" ") == "\t"):
        return (
            line + 1,
            column + 1,
            f"line {line + 1} has a Tab character: YAML needs spaces, replace the Tab with spaces",
        )
    if "quoted scalar" in context and "end of stream" in problem and exc.context_mark:
        start = exc.context_mark.line
        return (
            start + 1,
            exc.context_mark.column + 1,
            f"the quote opened on line {start + 1} is never closed: add the closing quote "
            "at the end of that text",
        )
    if "simple key" in context and exc.context_mark:
        start = exc.context_mark.line
        return (
            start + 1,
            exc.context_mark.column + 1,
            f"line {start + 1} is neither 'field: text' nor '- list item': a field name needs "
            "a colon and a space after it (like 'question: ...'), a list item a dash and a space",
        )
    if "flow sequence" in context or "flow mapping" in context:
        start = exc.context_mark.line if exc.context_mark else line
        near = f" (noticed on line {line + 1})" if line != start else ""
        return (
            start + 1,
            (exc.context_mark.column + 1) if exc.context_mark else 0,
            f"the list in [ ] that starts on line {start + 1} is broken{near}: it must end "
            "with ], with a comma between the items; put an item containing a comma, a colon, "
            "a quote or a bracket in double quotes, and close every quote you open",
        )
    if problem.startswith("expected <block end>"):
        previous = above(line)
        starts_line = row[:column].strip() == ""
        if (
            starts_line
            and previous >= 0
            and indent(line) <= indent(previous)
            and lines[previous].rstrip().endswith(("|", ">", "|-", ">-"))
        ):
            return (
                line + 1,
                column + 1,
                f"line {line + 1} is the text of the field on line {previous + 1}, so it must "
                f"be indented more than that field ({indent(previous)} spaces): add spaces at "
                "its start, like the other lines of the text",
            )
        if starts_line and previous >= 0 and indent(line) < indent(previous):
            return (
                line + 1,
                column + 1,
                f"line {line + 1} is indented less than the lines above it ({indent(line)} "
                f"spaces, line {previous + 1} has {indent(previous)}): line it up with the "
                "other fields of its block",
            )
        if not starts_line:
            return (
                line + 1,
                column + 1,
                f"line {line + 1} has more text after a closing quote: put the whole text in "
                "double quotes, and write a quote inside it as \\\" (or use ' quotes outside)",
            )
    if problem.startswith("mapping values are not allowed"):
        previous = above(line)
        if previous >= 0 and indent(line) > indent(previous) and ": " in lines[previous]:
            head = lines[previous].split(": ", 1)[1].strip()
            if head and head not in ("|", ">", "|-", ">-"):
                return (
                    line + 1,
                    column + 1,
                    f"line {line + 1} is indented more than line {previous + 1} above it: line "
                    "it up with the other fields of its block",
                )
        return (
            line + 1,
            column + 1,
            f"line {line + 1} has a colon followed by a space inside a text: put the whole "
            'text in double quotes, like question: "Note: ..."',
        )
    if "found duplicate anchor" in problem or "found undefined alias" in problem:
        return (
            line + 1,
            column + 1,
            f"line {line + 1} has a text starting with & or *: put that text in double quotes",
        )
    if "cannot start any token" in problem:
        char = problem.split("'")[1] if "'" in problem else "this character"
        return (
            line + 1,
            column + 1,
            f"line {line + 1}: a text cannot start with {char}; put the whole text in double "
            "quotes",
        )
    return (
        line + 1,
        column + 1,
        f"line {line + 1} does not fit with the lines above it: each line is a field "
        "('name: text') or a list item ('- text'), lined up with the others of its block; "
        "put text containing ': ' in double quotes",
    )


def duplicate_keys(node: yaml.Node | None) -> list[tuple[int, int, str]]:
    """Fields written twice in one block (YAML keeps only the last one, silently)."""
    found: list[tuple[int, int, str]] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                name = str(key.value)
                if name in seen:
                    found.append(
                        (
                            key.start_mark.line + 1,
                            key.start_mark.column + 1,
                            f"{name!r} is written twice in this block (first on line "
                            f"{seen[name]}): only the second one would count; merge them",
                        )
                    )
                else:
                    seen[name] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return sorted(found)

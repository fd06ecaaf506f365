"""YAML in, plain data out, with the line of every value remembered.

PyYAML forgets positions once it builds Python objects and silently keeps the
last of duplicate keys; both would make errors vague, so we compose the node
graph ourselves and keep a path -> line index beside the data.
"""

from __future__ import annotations

from typing import Any

import yaml

from estate.errors import Problem, dotted

Path = tuple[str | int, ...]
# libyaml's composer keeps the same marks and is several times faster on a city-sized file.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Aliases let a few hundred bytes expand into billions of values (a "billion
# laughs" bomb). The largest real estate (examples/puyang.yaml) builds about
# 8,000 values; these limits sit over 100 times above it and far below a hang.
MAX_VALUES = 1_000_000
MAX_DEPTH = 100
# What PyYAML's constructors raise for a scalar they cannot convert (a bad
# date, `!!int abc`, `!!bool maybe`, an integer past Python's digit limit).
_CONVERSION_ERRORS = (yaml.YAMLError, ValueError, KeyError, OverflowError)
# What `yaml.safe_load` of a hostile file can raise besides: the conversion
# errors, UTF-8 decoding (a ValueError) and nesting past the recursion limit.
# Every reader of a user's YAML file catches these, and turns them into one line.
YAML_LOAD_ERRORS = (*_CONVERSION_ERRORS, RecursionError)


class SourceDoc:
    """Parsed YAML plus the line on which each path starts."""

    def __init__(self, file: str, data: Any, lines: dict[Path, int]) -> None:
        self.file = file
        self.data = data
        self._lines = lines

    def line_of(self, path: Path) -> int:
        """Line of the deepest known prefix of `path` (generated values point at their origin)."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return self._lines.get((), 1)

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), message)


def parse(text: str, file: str) -> SourceDoc:
    """Parse one YAML document; raise a one-line `Problem` for syntax errors."""
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise _single(Problem(file, line, "", f"not valid YAML: {exc.problem or exc}")) from None
    except yaml.YAMLError as exc:
        line = 1
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            detail = f"character {exc.character!r} is not allowed in YAML"
        else:
            detail = str(exc)
        raise _single(Problem(file, line, "", f"not valid YAML: {detail}")) from None
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    if node is None:
        return SourceDoc(file, None, {(): 1})
    builder = _Builder(file, lines, problems)
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        raise _single(Problem(file, exc.line, dotted(exc.path), exc.message)) from None
    if problems:
        from estate.errors import EstateError

        raise EstateError(problems)
    return SourceDoc(file, data, lines)


def _single(problem: Problem) -> Exception:
    from estate.errors import EstateError

    return EstateError([problem])


def clip(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters, so echoing a value keeps the problem one short line."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _TooBig(Exception):
    """Building must stop at once (an alias bomb, a recursive alias, runaway nesting)."""

    def __init__(self, line: int, path: Path, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


class _Builder:
    """Turns composed nodes into data, one SafeLoader reused for every scalar."""

    def __init__(self, file: str, lines: dict[Path, int], problems: list[Problem]) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems
        self.loader = yaml.SafeLoader("")
        self.budget = MAX_VALUES
        self.open: set[int] = set()  # ids of the collections being built: an alias to one recurses

    def build(self, node: yaml.Node, path: Path) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        self.budget -= 1
        if self.budget < 0:
            raise _TooBig(
                line,
                path,
                f"more than {MAX_VALUES:,} values once aliases are expanded "
                "(an alias bomb?); write the values out or use fewer aliases",
            )
        if len(path) > MAX_DEPTH:
            raise _TooBig(line, path, f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            raise _TooBig(line, path, "an alias refers to a value that contains it (recursive)")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._add(
                    line, path, "YAML merge keys (<<) are not supported; write the values out"
                )
                continue
            key = self._scalar(key_node, path)
            if not isinstance(key, str | int) or isinstance(key, bool):
                self._add(line, path, f"expected a text key, found {key!r}")
                continue
            key = str(key)
            child = (*path, key)
            if key in out:
                self._add(line, child, f"duplicate key {key!r} (first on line {self.lines[child]})")
                continue
            out[key] = self.build(value_node, child)
            self.lines[child] = line
        return out

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self._add(node.start_mark.line + 1, path, "expected a plain value here")
            return None
        try:
            value = self.loader.construct_object(node, deep=True)
        except _CONVERSION_ERRORS as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            # KeyError's text is only the bad word; ValueError's says what is wrong with it.
            why = f" ({clip(str(exc))})" if isinstance(exc, ValueError | yaml.YAMLError) else ""
            self._add(
                node.start_mark.line + 1,
                path,
                f"expected a valid {kind}, found {clip(repr(node.value))}{why}",
            )
            return None
        if isinstance(value, int | float) and ":" in node.value and not node.style:
            # YAML 1.1 reads 52:54:00:12:34:56 as a base-60 number; YAML 1.2
            # dropped that, and in an estate it is always a MAC address.
            return node.value
        return value

    def _add(self, line: int, path: Path, message: str) -> None:
        self.problems.append(Problem(self.file, line, dotted(path), message))

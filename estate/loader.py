"""Reading an estate file: YAML -> spec (shape) -> Estate (references, addresses).

Every problem becomes one `file:line: path: message` line; nothing here lets a
traceback reach the user for a mistake in their file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from estate.build import build
from estate.errors import EstateError, Problem
from estate.model import Estate
from estate.schema import EstateSpec
from estate.source import SourceDoc, clip, parse


def load(path: str | Path) -> Estate:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EstateError([Problem(file, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise EstateError(
            [Problem(file, 0, "", "is a directory, expected an estate YAML file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise EstateError([Problem(file, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise EstateError([Problem(file, 0, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, file)


def load_text(text: str, file: str = "<estate>") -> Estate:
    source = parse(text, file)
    if not isinstance(source.data, dict):
        raise EstateError(
            [
                source.problem(
                    (), f"expected a mapping of estate sections, found {_kind(source.data)}"
                )
            ]
        )
    try:
        spec = EstateSpec.model_validate(source.data)
    except ValidationError as exc:
        raise EstateError(_problems(exc, source)) from None
    return build(spec, source)


def _problems(exc: ValidationError, source: SourceDoc) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = _message(error, loc)
        problems.append(source.problem(loc, message))
    return problems


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    found = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {loc[-1]!r}{hint}"
    if kind == "missing":
        return "required, missing"
    text = str(error["msg"])
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if "found" in text or kind in ("value_error",):
        return text
    return f"{text[0].lower()}{text[1:]}, found {_show(found)}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 256:
        # repr() of an int past Python's 4300-digit limit raises; none belongs in an estate anyway.
        return f"an integer of {value.bit_length()} bits"
    return clip(repr(value))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "an empty file"}.get(
        type(value), repr(value)
    )


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at `loc` accepts, so 'unknown key' can say what was meant."""
    model: Any = EstateSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None

"""Command-line overrides: `key.sub=value`, typed by the field they set."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from ..store import RunError
from .safe_yaml import load_yaml
from .settings import Config


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RunError(f"override {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _annotation(dotted: str) -> Any:
    """The type annotation of the config field `dotted` names, or None if it names none."""
    model: Any = Config
    annotation: Any = None
    for part in dotted.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = annotation = field.annotation
    return annotation


def _takes_text(annotation: Any) -> bool:
    """True for `str` and `str | None`, not for `list[str]` or `dict[str, str]`."""
    if get_origin(annotation) in (Union, UnionType):
        return str in get_args(annotation)
    return annotation is str


def parse_override(text: str) -> tuple[str, Any]:
    """`sample.n=8` -> ("sample.n", 8). Values are read as YAML scalars (numbers, bools, lists),
    except that a text field takes an unquoted value as written: `model.backend=openai:` or
    `model.system_prompt=Be brief #1` must not turn into a YAML mapping, a bool or a comment."""
    if "=" not in text:
        raise RunError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise RunError(f"override {text!r}: the key before '=' is empty or has an empty part")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if value is not None and _takes_text(_annotation(key)) and not raw.lstrip().startswith(
        ("'", '"')
    ):
        value = raw.strip()
    elif isinstance(value, dict) and not raw.lstrip().startswith("{"):
        value = raw.strip()  # `a: b` on a command line is text; a mapping is written `{a: b}`
    return key, value

"""`load_config`: the YAML file, then the overrides, then validation, with every error naming
the key and where it was given (the file's line or the override)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..registry import STAGES
from ..store import RunError
from .overrides import parse_override, set_dotted
from .safe_yaml import load_yaml, yaml_lines
from .settings import Config


def _problem(
    where: str, message: str, value: Any, source: str, lines: dict[str, int],
    overrides: dict[str, str],
) -> str:
    """`  key: what is wrong (got VALUE; where it was given)`: the config file's line, or the
    command-line override."""
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    details = [] if isinstance(value, dict) else [f"got {shown}"]
    given = [t for k, t in overrides.items()
             if k == where or k.startswith(where + ".") or where.startswith(k + ".")]
    if given:
        details.append("from the override " + ", ".join(repr(t) for t in given))
    else:
        keys = [k for k in lines if k == where or where.startswith(k + ".")]
        if keys:
            details.append(f"{source} line {lines[max(keys, key=len)]}")
    return f"  {where}: {message}" + (f" ({'; '.join(details)})" if details else "")


def _describe(
    error: ValidationError, source: str, lines: dict[str, int], overrides: dict[str, str]
) -> str:
    out = [f"{source}: invalid config"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "list_type":
            message += " (write a list as key=[a, b])"
        out.append(_problem(where, message, item.get("input"), source, lines, overrides))
    return "\n".join(out)


def _stages_problem(stages: list[str]) -> str | None:
    """What is wrong with verify.stages, checked when the config loads so that `svdistill run`
    stops before it pays for the samples, not after."""
    if problem := STAGES.unknown(stages):
        return problem
    if not stages:
        return "no stage: name at least one (curate.policy=no-filter trains unverified samples)"
    if len(set(stages)) != len(stages):
        return "a stage is listed twice"
    return None


def _prompt_problems(prompts: dict[str, str]) -> dict[str, str]:
    """verify.prompts key -> what is wrong with it (an unknown template name, a file that cannot
    be read, a placeholder that is missing or unknown), checked when the config loads."""
    from ..verify.prompts import REQUIRED, SOLVER, load_template, unknown_prompts

    problems = {}
    for name in unknown_prompts(prompts):
        close = difflib.get_close_matches(name, [*REQUIRED, *SOLVER], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problems[name] = f"unknown prompt ({hint}known: {', '.join([*REQUIRED, *SOLVER])})"
    for name, file in prompts.items():
        if name not in problems:
            try:
                load_template(name, file)
            except RunError as exc:
                problems[name] = str(exc).removeprefix(f"verify.prompts.{name}: ")
    return problems


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or defaults when `path` is None) and apply overrides."""
    tree: dict[str, Any] = {}
    source = "defaults"
    lines: dict[str, int] = {}
    if path is not None:
        source = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RunError(f"{path}: cannot read config ({exc.strerror})") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise RunError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None
        try:
            loaded = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            column = f", column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and start and mark and start.line != mark.line:  # the unclosed bracket
                column += f"; {context} that starts at line {start.line + 1}"
            raise RunError(f"{path}{where}: not valid YAML ({problem}{column})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise RunError(f"{path}: the config must be a mapping of sections, "
                           f"not a {type(loaded).__name__}")
        tree = loaded or {}
        lines = yaml_lines(text)
    given: dict[str, str] = {}
    for item in overrides or []:
        key, value = parse_override(item)
        set_dotted(tree, key, value)
        given[key] = item
    try:
        config = Config.model_validate(tree)
    except ValidationError as exc:
        raise RunError(_describe(exc, source, lines, given)) from None
    if problem := _stages_problem(config.verify.stages):
        where = _problem("verify.stages", problem, config.verify.stages, source, lines, given)
        raise RunError(f"{source}: invalid config\n{where}")
    if problems := _prompt_problems(config.verify.prompts):
        where = [_problem(f"verify.prompts.{name}", problem, config.verify.prompts[name], source,
                          lines, given) for name, problem in problems.items()]
        raise RunError(f"{source}: invalid config\n" + "\n".join(where))
    return config

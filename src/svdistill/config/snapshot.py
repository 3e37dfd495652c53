"""The run folder's copy of the resolved config (`RUN/config.yaml`), and how to tell it from a
file a user wrote: svdistill rewrites its own copy on every run, and must never replace a
user's config (their comments and layout) that happens to sit where the copy goes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .settings import Config

#: The first line of every copy: what marks the file as svdistill's to rewrite.
HEADER = "# svdistill: the resolved config of this run; every run rewrites this file.\n"

#: Sections every copy written before HEADER existed holds (later versions added more).
_OLDEST_SECTIONS = {"model", "seeds", "sample", "verify"}


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def save_config(config: Config, path: Path) -> None:
    from ..store import atomic_writer

    with atomic_writer(path) as f:
        f.write(HEADER + _dump(config.model_dump(mode="json")))


def is_snapshot(text: str) -> bool:
    """True for a copy `save_config` wrote: one with HEADER, or an older one, which is a plain
    dump of the sections (it dumps back to the same text; a hand-written file, with comments or
    its own layout, does not)."""
    if text.startswith(HEADER):
        return True
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(tree, dict) and _OLDEST_SECTIONS <= tree.keys() and _dump(tree) == text

"""Write docs/config.md, the config reference, from the typed settings in svdistill.config.

    python scripts/config_reference.py [--check]

The reference is generated so it cannot drift from the code: `--check` exits non-zero when the
file on disk differs from what the settings say now (the test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import BaseModel

from svdistill.config import Config

OUT = Path(__file__).resolve().parent.parent / "docs" / "config.md"

HEADER = """# Config reference

Every setting, by section. A config is one YAML file holding any subset of these (the rest keep
their defaults); any key can also be set on the command line as `section.key=value`, for example
`svdistill run demo --out runs/x sample.n=8 verify.votes=5 "evaluate.benchmarks=[arithmetic@40]"`.
Unknown keys and impossible values are errors that name the key. The resolved config of a run is
saved as `config.yaml` in its folder, and rewritten by every run there; a folder whose
`config.yaml` svdistill did not write (your own config, say) is refused as a run folder, so that
file is never replaced.

Generated from `src/svdistill/config/` by `python scripts/config_reference.py`.
"""


def _type_name(annotation) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(f"`{choice}`" for choice in get_args(annotation))
    text = str(annotation) if get_args(annotation) else annotation.__name__
    return text.replace("typing.", "").replace("NoneType", "None")


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "-"
    if isinstance(value, str):
        return "`" + value.replace("\n", "\\n") + "`"
    return f"`{value!r}`"


def render() -> str:
    parts = [HEADER]
    for section, info in Config.model_fields.items():
        model = info.annotation
        doc = " ".join((model.__doc__ or "").split())
        parts.append(f"\n## `{section}`\n")
        if doc:
            parts.append(f"{doc}\n")
        parts.append("| key | type | default | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "\\|")
            type_name = _type_name(field.annotation).replace("|", "\\|")
            default = _default(field).replace("|", "\\|")
            parts.append(f"| `{section}.{name}` | {type_name} | {default} | {meaning} |")
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if docs/config.md is stale")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            sys.exit(f"{OUT} is stale: run python scripts/config_reference.py")
        return
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

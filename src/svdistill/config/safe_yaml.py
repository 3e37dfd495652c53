"""YAML read safely: `yaml.safe_load` that also refuses duplicate keys and alias bombs, and
the line of each key, for errors that point into the file."""

from __future__ import annotations

from typing import Any

import yaml

#: More values than this, once YAML aliases are expanded, is refused: a config holds a few hundred,
#: and a handful of nested aliases ("billion laughs") expands to billions that every later step
#: (validation, error messages) would walk one by one.
MAX_YAML_VALUES = 100_000


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a duplicate mapping key (YAML would keep the last value silently) and a document
    whose aliases expand past MAX_YAML_VALUES. Each node is visited once, so a bomb costs only
    the size of its text."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, prefix: str) -> int:
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise yaml.MarkedYAMLError(problem="an alias refers to a value that holds it",
                                           problem_mark=node.start_mark)
            return sizes[id(node)]  # an alias: the same node again
        sizes[id(node)] = -1
        total = 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name != "<<" and name in first:
                    line = first[name].start_mark.line + 1
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {prefix + name!r}, first at line {line}; YAML "
                        "would keep the last value silently",
                        problem_mark=key.start_mark,
                    )
                if name is not None:
                    first[name] = key
                total += size(key, prefix) + size(value, f"{prefix}{name}.")
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(child, prefix) for child in node.value)
        if total > MAX_YAML_VALUES:
            raise yaml.MarkedYAMLError(
                problem=f"the aliases here expand to more than {MAX_YAML_VALUES:,} values",
                problem_mark=node.start_mark,
            )
        sizes[id(node)] = total
        return total

    size(root, "")


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing duplicate keys and alias bombs (see `_check_nodes`)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    finally:
        loader.dispose()


def yaml_lines(text: str) -> dict[str, int]:
    """dotted key -> 1-based line of that key in a YAML mapping text (best effort)."""
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    dotted = f"{prefix}{key.value}"
                    lines[dotted] = key.start_mark.line + 1
                    walk(value, dotted + ".")

    try:
        walk(yaml.compose(text), "")
    except yaml.YAMLError:
        pass
    return lines

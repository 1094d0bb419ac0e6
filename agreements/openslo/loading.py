"""YAML text to plain objects, safely: size, depth and node limits, no aliases.

``yaml.safe_load_all`` builds shared objects for aliases, so an alias bomb ("billion laughs")
costs little memory but makes every walk over the result exponential; and the composer
recurses once per nesting level, so 50,000 nested brackets overflow the stack. Both are
refused by a first pass over the parser's events, which is iterative and stops at the first
limit crossed.

A scalar YAML resolves to a number or a date but cannot build (``2022-02-30``, an integer of
thousands of digits, ``!!float abc``) raises ValueError, OverflowError or AttributeError from
PyYAML's constructors: :class:`_Loader` turns those into a located ``ConstructorError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from agreements.openslo.problems import Problem

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000


class _Loader(yaml.CSafeLoader):
    """The safe loader, with scalars that cannot build reported where they are, and a key
    given twice in one mapping refused (YAML says keys are unique; PyYAML keeps the last one,
    so ``target: 0.5`` then ``target: 0.999`` would import 0.999 without a word)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the constructor below says so
                if first is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"the key {key!r} is given twice in one mapping (first on line "
                        f"{first.line + 1}): keep one",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _guarded(constructor: Any, what: str) -> Any:
    def construct(loader: Any, node: Any) -> Any:
        try:
            return constructor(loader, node)
        except (ValueError, OverflowError, AttributeError, TypeError) as exc:
            shown = str(node.value)
            shown = shown if len(shown) <= 40 else f"{shown[:20]}…({len(shown):,} characters)"
            if what == "date":
                # "day is out of range for month" says why; quoting keeps text that looks like one.
                why = f" ({exc}; quote it if it is text)" if isinstance(exc, ValueError) else ""
            else:
                why = ""
            raise ConstructorError(
                None, None, f"{shown!r} is not a valid {what}{why}", node.start_mark
            ) from exc

    return construct


for _tag, _method, _what in (
    ("int", "construct_yaml_int", "integer"),
    ("float", "construct_yaml_float", "number"),
    ("timestamp", "construct_yaml_timestamp", "date"),
):
    _Loader.add_constructor(
        f"tag:yaml.org,2002:{_tag}", _guarded(getattr(SafeConstructor, _method), _what)
    )


@dataclass(frozen=True)
class Loaded:
    """The objects of the file, flattened: a YAML document holding a list of objects (the
    go-sdk's style) counts each item as one object."""

    objects: list[Any]
    problems: list[Problem]


def _problem(reason: str, mark: Any = None) -> Problem:
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return Problem(None, "", "", "", reason + where)


def load_objects(text: str | bytes) -> Loaded:
    """Every object of a multi-document YAML file, or the one problem that stops reading."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            return Loaded([], [_problem(_too_big(len(text)))])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Loaded([], [_problem(f"The file is not UTF-8 text (byte {exc.start}).")])
    if len(text.encode("utf-8")) > MAX_BYTES:
        return Loaded([], [_problem(_too_big(len(text.encode("utf-8"))))])
    if not text.strip():
        return Loaded([], [_problem("The file is empty: paste or upload OpenSLO YAML.")])
    problem = _check_events(text)
    if problem is not None:
        return Loaded([], [problem])
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        return Loaded([], [_problem(f"Not valid YAML: {exc.problem}", exc.problem_mark)])
    objects: list[Any] = []
    for document in documents:
        if document is None:
            continue
        if isinstance(document, list):
            objects.extend(document)
        else:
            objects.append(document)
    if not objects:
        return Loaded([], [_problem("The file holds no documents.")])
    return Loaded(objects, [])


def _too_big(size: int) -> str:
    return f"The file is {size:,} bytes; at most {MAX_BYTES:,} bytes are read."


def _check_events(text: str) -> Problem | None:
    depth = 0
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return _problem(
                    f"YAML aliases (*{event.anchor}) are not accepted: write the values out.",
                    event.start_mark,
                )
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    return _problem(f"More than {MAX_NODES:,} YAML values.", event.start_mark)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return _problem(f"Nested more than {MAX_DEPTH} levels deep.", event.start_mark)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        reason = exc.problem or str(exc)
        return _problem(f"Not valid YAML: {reason}", exc.problem_mark)
    except yaml.YAMLError as exc:
        return _problem(f"Not valid YAML: {exc}")
    return None

"""The admin API's OpenAPI document, derived from what each handler declares it reads and answers.

A handler is registered through :class:`ApiRoutes` with its query parameters (objects that both parse the
request and describe themselves), its request body and its answers as types: the TypedDicts that the result
types' ``as_json()`` return. The document is built from those types, never written beside them, so a field
added to an answer is in the document as soon as it is in the code (and a test checks real answers against
it, ``additionalProperties`` false, so one left out of the type is caught too).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import (
    Annotated, Any, Generic, Literal, TypedDict, TypeVar, Union, get_args, get_origin, get_type_hints, is_typeddict,
)  # fmt: skip

from aiohttp import web

from hub.views.errors import text_problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)
T = TypeVar("T", bound=str)

#: The longest whole number a query parameter takes when none lower is declared.
_MAX_COUNT = 10**9


class BadRequest(Exception):
    """The request names something wrong; the message says what (answered 400)."""


class ErrorJson(TypedDict):
    """Every error the hub answers: what went wrong, in words."""

    error: str


class Limits:
    """JSON Schema keywords that narrow an annotated type: ``Annotated[list[str], Limits(minItems=1)]``."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords


def schema_of(annotation: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema (2020-12, as OpenAPI 3.1 has it) of a type annotation; TypedDicts go by reference
    into ``schemas`` (the document's ``components.schemas``), each once."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        schema = schema_of(args[0], schemas)
        for extra in args[1:]:
            if isinstance(extra, Limits):
                schema = {**schema, **extra.keywords}
        return schema
    if is_typeddict(annotation):
        name = annotation.__name__
        if name not in schemas:
            schemas[name] = {}  # reserved first: a TypedDict that holds itself refers to itself
            hints = get_type_hints(annotation, include_extras=True)
            schemas[name] = {
                "type": "object",
                "description": inspect.cleandoc(annotation.__doc__ or name),
                "properties": {key: schema_of(hint, schemas) for key, hint in hints.items()},
                "required": sorted(annotation.__required_keys__),
                "additionalProperties": False,
            }
        return {"$ref": f"#/components/schemas/{name}"}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        members = [schema_of(arg, schemas) for arg in args]
        simple = [m["type"] for m in members if m.keys() == {"type"} and isinstance(m["type"], str)]
        return {"type": simple} if len(simple) == len(members) else {"anyOf": members}
    if origin in (list, tuple):
        return {"type": "array", "items": schema_of(args[0], schemas)}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(args[1], schemas)}
    simple_types = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
    if annotation in simple_types:
        return {"type": simple_types[annotation]}
    if annotation is datetime:
        return {"type": "string", "format": "date-time"}  # hub.jsonio writes them as ISO 8601
    if annotation is Any:
        return {}  # any JSON value
    raise TypeError(f"no JSON Schema for {annotation!r}")


# --- parameters: each parses the request and describes itself, so the two cannot disagree ---------------


@dataclasses.dataclass(frozen=True, slots=True)
class Choice(Generic[T]):
    """A query parameter that is one of a Literal type's values, or absent (None)."""

    name: str
    values: Any  # the Literal type
    description: str

    def read(self, request: web.Request) -> T | None:
        """The value given, or None; 400 for any other."""
        value = request.query.get(self.name)
        choices = get_args(self.values)
        if value is not None and value not in choices:
            raise BadRequest(f"{self.name} must be one of {', '.join(choices)}, not {value!r}")
        return value  # type: ignore[return-value]  # one of the Literal's values, checked above

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        return _query(self.name, self.description, {"type": "string", **schema_of(self.values, schemas)})


@dataclasses.dataclass(frozen=True, slots=True)
class Switch:
    """A ``true``/``false`` query parameter, or absent (None)."""

    name: str
    description: str

    def read(self, request: web.Request) -> bool | None:
        """The value given, or None; 400 for anything but ``true`` or ``false``."""
        value = request.query.get(self.name)
        if value is not None and value not in ("true", "false"):
            raise BadRequest(f"{self.name} must be true or false, not {value[:40]!r}")
        return None if value is None else value == "true"

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        return _query(self.name, self.description, {"type": "boolean"})


@dataclasses.dataclass(frozen=True, slots=True)
class Count:
    """A whole-number query parameter from 0 to ``maximum``, ``default`` when absent."""

    name: str
    default: int
    description: str
    maximum: int = _MAX_COUNT

    def read(self, request: web.Request) -> int:
        """The number given, or the default; 400 for anything else."""
        raw = request.query.get(self.name)
        if raw is None:
            return self.default
        # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and other scripts' digits.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(self.maximum)) or int(raw) > self.maximum:
            raise BadRequest(f"{self.name} must be a whole number from 0 to {self.maximum}")
        return int(raw)

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema = {"type": "integer", "minimum": 0, "maximum": self.maximum, "default": self.default}
        return _query(self.name, self.description, schema)


@dataclasses.dataclass(frozen=True, slots=True)
class Text:
    """A text query parameter (no NUL, valid UTF-8, at most ``max_length`` characters), or absent (None)."""

    name: str
    description: str
    max_length: int | None = None

    def read(self, request: web.Request) -> str | None:
        """The text given, or None; 400 for text no database can look up."""
        value = request.query.get(self.name)
        problem = text_problem(value, self.max_length) if value is not None else None
        if problem:
            raise BadRequest(f"{self.name} {problem}")
        return value

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema: dict[str, Any] = {"type": "string", "pattern": NO_NUL}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return _query(self.name, self.description, schema)


#: What :func:`hub.views.errors.text_problem` refuses besides length, as a JSON Schema pattern.
NO_NUL = "^[^\\u0000]*$"

QueryParameter = Choice[Any] | Switch | Count | Text


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


@dataclasses.dataclass(frozen=True, slots=True)
class PathParameter:
    """A ``{name}`` segment of the API's paths: what it names, and which values the handlers take."""

    description: str
    schema: Mapping[str, Any]


# --- operations ----------------------------------------------------------------------------------------

#: What each error status means on every operation that can give it; operations add their own reasons.
ERROR_MEANINGS = {
    400: "the request is malformed: the message says which parameter or field, and why",
    401: "the bearer token is missing or wrong",
    404: "the admin API is off (no admin.api_token)",
    413: "the request body is larger than server.max_body_bytes (also once inflated)",
    415: "the body's Content-Encoding is neither gzip nor deflate",
    503: "the hub cannot reach its database right now (Retry-After says when to try again)",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One route of the API as the document describes it."""

    method: str
    path: str
    handler: Handler
    #: The JSON answers by status, each a type or ``(type, description)``.
    answers: Mapping[int, Any]
    query: tuple[QueryParameter, ...]
    body: Any
    #: Error answers (:class:`ErrorJson`) this operation gives beyond the common ones, with their reasons.
    errors: Mapping[int, str]
    public: bool

    def responses(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI responses object: the answers, then every error the operation can give."""
        reasons: dict[int, list[str]] = {}
        if not self.public:
            for status in (401, 404, 503):
                reasons.setdefault(status, []).append(ERROR_MEANINGS[status])
        if self.query or self.body is not None:
            reasons.setdefault(400, []).append(ERROR_MEANINGS[400])
        if self.body is not None:
            for status in (413, 415):
                reasons.setdefault(status, []).append(ERROR_MEANINGS[status])
        for status, reason in self.errors.items():
            reasons.setdefault(status, []).append(reason)
        responses = {}
        for status, answer in sorted(self.answers.items()):
            kind, description = answer if isinstance(answer, tuple) else (answer, _first_line(answer.__doc__))
            responses[str(status)] = _json_content(description, schema_of(kind, schemas))
        for status, texts in sorted(reasons.items()):
            responses[str(status)] = _json_content("; or ".join(texts), schema_of(ErrorJson, schemas))
        return responses


def _json_content(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc or "").partition("\n")[0]


def _markdown(doc: str) -> str:
    """A docstring as OpenAPI's CommonMark: reST's double backquotes are Markdown's single ones."""
    return inspect.cleandoc(doc).replace("``", "`")


class ApiRoutes:
    """The API's routes for aiohttp, and the OpenAPI document of the same routes."""

    def __init__(self, path_parameters: Mapping[str, PathParameter]) -> None:
        self.routes = web.RouteTableDef()
        self.operations: list[Operation] = []
        self._path_parameters = path_parameters

    def get(self, path: str, answer: Any, **declared: Any) -> Callable[[H], H]:
        """Register a GET handler (see :meth:`operation`)."""
        return self.operation("GET", path, answer, **declared)

    def post(self, path: str, answer: Any, **declared: Any) -> Callable[[H], H]:
        """Register a POST handler (see :meth:`operation`)."""
        return self.operation("POST", path, answer, **declared)

    def put(self, path: str, answer: Any, **declared: Any) -> Callable[[H], H]:
        """Register a PUT handler (see :meth:`operation`)."""
        return self.operation("PUT", path, answer, **declared)

    def operation(
        self,
        method: str,
        path: str,
        answer: Any,
        *,
        also: Mapping[int, Any] | None = None,
        query: tuple[QueryParameter, ...] = (),
        body: Any = None,
        errors: Mapping[int, str] | None = None,
        public: bool = False,
    ) -> Callable[[H], H]:
        """Register a handler with what it reads (``query`` parameters, a ``body`` type) and answers.

        ``answer``: the type of its 200 answer; ``also``: other JSON answers by status, each a type or
        ``(type, description)``; ``errors``: the error answers it gives beyond those every operation of its
        kind can (401, 404, 503; 400 when it reads a query or a body; 413 and 415 when it reads a body), with
        why; ``public``: needs no bearer token.
        """
        answers = {200: answer, **(also or {})}
        for name in re.findall(r"{(\w+)}", path):
            if name not in self._path_parameters:
                raise ValueError(f"{path}: path parameter {name!r} is not declared")

        def register(handler: H) -> H:
            self.routes.route(method, path)(handler)
            self.operations.append(
                Operation(method, path, handler, answers, query, body, errors or {}, public)
            )
            return handler

        return register

    def document(self, title: str, version: str) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every registered operation."""
        schemas: dict[str, Any] = {}
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            doc = _markdown(op.handler.__doc__ or op.handler.__name__)
            summary, _, description = doc.partition("\n")
            item: dict[str, Any] = {"operationId": op.handler.__name__, "summary": summary}
            if description.strip():
                item["description"] = description.strip()
            parameters = [
                {"name": name, "in": "path", "required": True, "description": declared.description,
                 "schema": dict(declared.schema)}
                for name in re.findall(r"{(\w+)}", op.path)
                for declared in [self._path_parameters[name]]
            ]  # fmt: skip
            parameters += [parameter.parameter(schemas) for parameter in op.query]
            if parameters:
                item["parameters"] = parameters
            if op.body is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schema_of(op.body, schemas)}},
                }
            item["responses"] = op.responses(schemas)
            if op.public:
                item["security"] = []
            paths.setdefault(op.path, {})[op.method.lower()] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "components": {
                "schemas": dict(sorted(schemas.items())),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
            "paths": paths,
        }

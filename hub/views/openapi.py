"""The admin API's OpenAPI document, derived from what each handler declares it reads and answers.

A handler is registered through :class:`ApiRoutes` with its query parameters (objects that both parse the
request and describe themselves), its request body and its answers as types: the TypedDicts that the result
types' ``as_json()`` return. The document is built from those types, never written beside them, so a field
added to an answer is in the document as soon as it is in the code (and a test checks real answers against
it, ``additionalProperties`` false, so one left out of the type is caught too).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import (
    Annotated,
    Any,
    Generic,
    Literal,
    NotRequired,
    TypedDict,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from aiohttp import web

from hub.views.errors import json_error, text_problem

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


def schema_of(annotation: Any, schemas: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    """The JSON Schema (2020-12, as OpenAPI 3.1 has it) of a type annotation; TypedDicts go by reference
    into ``schemas`` (the document's ``components.schemas``), each once.

    ``closed``: objects have no other properties than their type's. True for answers, so an answer with a
    field its type lacks fails its schema; False for request bodies, whose other fields the handlers ignore.
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        schema = schema_of(args[0], schemas, closed=closed)
        for extra in args[1:]:
            if isinstance(extra, Limits):
                schema = {**schema, **extra.keywords}
        return schema
    if is_typeddict(annotation):
        name = annotation.__name__
        if name not in schemas:
            schemas[name] = {}  # reserved first: a TypedDict that holds itself refers to itself
            hints = get_type_hints(annotation, include_extras=True)
            # Read from the hints, not __required_keys__: Python 3.11 misses NotRequired in annotations that
            # are strings (``from __future__ import annotations``).
            optional = {key for key, hint in hints.items() if get_origin(hint) is NotRequired}
            optional |= annotation.__optional_keys__
            hints = {key: get_args(h)[0] if get_origin(h) is NotRequired else h for key, h in hints.items()}
            schema: dict[str, Any] = {
                "type": "object",
                "description": _markdown(annotation.__doc__ or name),
                "properties": {key: schema_of(hint, schemas, closed=closed) for key, hint in hints.items()},
                "required": [key for key in hints if key not in optional],
            }
            if closed:
                schema["additionalProperties"] = False
            schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        members = [schema_of(arg, schemas, closed=closed) for arg in args]
        if all(m.keys() == {"enum"} or m == {"type": "null"} for m in members):
            return {"enum": [value for m in members for value in m.get("enum", [None])]}
        simple = [m["type"] for m in members if m.keys() == {"type"} and isinstance(m["type"], str)]
        return {"type": simple} if len(simple) == len(members) else {"anyOf": members}
    if origin in (list, tuple):
        return {"type": "array", "items": schema_of(args[0], schemas, closed=closed)}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(args[1], schemas, closed=closed)}
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
        if (
            not (raw.isascii() and raw.isdigit())
            or len(raw) > len(str(self.maximum))
            or int(raw) > self.maximum
        ):
            raise BadRequest(f"{self.name} must be a whole number from 0 to {self.maximum}")
        return int(raw)

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema = {"type": "integer", "minimum": 0, "maximum": self.maximum, "default": self.default}
        return _query(self.name, self.description, schema)


@dataclasses.dataclass(frozen=True, slots=True)
class Text:
    """A text query parameter (no NUL, valid UTF-8, at most ``max_length`` characters), or absent (None).

    ``lookup=True``: a name the hub looks up in its config, not its database, so any text is taken (one
    that names nothing is the handler's 404).
    """

    name: str
    description: str
    max_length: int | None = None
    lookup: bool = False
    #: A JSON Schema ``format`` the text is in (``date``): the handler checks it, the document says it.
    format: str | None = None

    def read(self, request: web.Request) -> str | None:
        """The text given, or None; 400 for text no database can look up."""
        value = request.query.get(self.name)
        problem = text_problem(value, self.max_length) if value is not None and not self.lookup else None
        if problem:
            raise BadRequest(f"{self.name} {problem}")
        return value

    def parameter(self, schemas: dict[str, Any]) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema: dict[str, Any] = {"type": "string"}
        if not self.lookup:
            schema["pattern"] = NO_NUL
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.format is not None:
            schema["format"] = self.format
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
    400: "the request is malformed (a value or field the operation refuses, or a query parameter it does not "
    "take): the message says which, and why",
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
        reasons: dict[int, list[str]] = {400: [ERROR_MEANINGS[400]]}
        if not self.public:
            for status in (401, 404, 503):
                reasons.setdefault(status, []).append(ERROR_MEANINGS[status])
        if self.body is not None:
            for status in (413, 415):
                reasons.setdefault(status, []).append(ERROR_MEANINGS[status])
        for status, reason in self.errors.items():
            reasons.setdefault(status, []).append(reason)
        responses = {}
        for status, answer in sorted(self.answers.items()):
            kind, description = answer if isinstance(answer, tuple) else (answer, _first_line(answer))
            responses[str(status)] = _json_content(description, schema_of(kind, schemas))
        for status, texts in sorted(reasons.items()):
            responses[str(status)] = _json_content("; or ".join(texts), schema_of(ErrorJson, schemas))
        return responses


def _json_content(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _first_line(kind: Any) -> str:
    """The first line of a type's docstring, as Markdown."""
    return _markdown(kind.__doc__ or "").partition("\n")[0]


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

        ``answer``: the type of its 200 answer, or ``(type, description)``; ``also``: other JSON answers
        by status, each the same; ``errors``: the error answers it gives beyond those every operation of its
        kind can (400; 401, 404 and 503 unless public; 413 and 415 when it reads a body), with why;
        ``public``: needs no bearer token.
        """
        answers = {200: answer, **(also or {})}
        for name in re.findall(r"{(\w+)}", path):
            if name not in self._path_parameters:
                raise ValueError(f"{path}: path parameter {name!r} is not declared")

        known = {parameter.name for parameter in query}

        def register(handler: H) -> H:
            @functools.wraps(handler)
            async def checked(request: web.Request) -> web.StreamResponse:
                # A parameter the operation does not take is a client's mistake (``limt=5``), not to be
                # ignored; and a handler cannot read a parameter the document does not declare.
                unknown = sorted(set(request.query) - known)
                if unknown:
                    takes = f"it takes {', '.join(sorted(known))}" if known else "it takes none"
                    return json_error(400, f"unknown query parameter {unknown[0][:40]!r}: {takes}")
                try:
                    return await handler(request)
                except BadRequest as error:
                    return json_error(400, str(error))

            self.routes.route(method, path)(checked)
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
                    "content": {"application/json": {"schema": schema_of(op.body, schemas, closed=False)}},
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

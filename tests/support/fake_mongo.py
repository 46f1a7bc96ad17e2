"""An in-process stand-in for the slice of pymongo's ``AsyncMongoClient`` that
:mod:`common.store.mongo` uses. It is a test double, not MongoDB, and the test output says so.

Why it exists: these machines have neither a MongoDB server nor a Docker engine, and the
fakes on PyPI do not fit (``mongomock`` and its forks are synchronous; ``mongomock-motor``
wraps Motor, which Herald does not use; ``pymongo-inmemory`` downloads a server binary at run
time). The store contract therefore runs against a real server when ``MONGODB_URL`` is set or
Docker is reachable (see ``tests/integration/conftest.py``), and against this otherwise.

Fidelity where the store depends on it:

* documents round-trip through BSON (``bson`` ships with pymongo): dates come back truncated
  to the millisecond and tz-aware in UTC, as from a client made with ``tz_aware=True``;
* ``_id`` is unique: a write that would duplicate it fails with code 11000
  (``DuplicateKeyError``, or a ``writeErrors`` item of ``BulkWriteError``);
* an upsert that matches nothing seeds the new document from the filter's equality fields
  and then applies the update, as the server does;
* pipeline updates (``$set``/``$addFields`` stages) evaluate every expression against the
  document as it was before the stage; a string that starts with ``$`` is a field path
  unless wrapped in ``$literal``;
* query operators: equality (``None`` matches null or missing), ``$eq $ne $lt $lte $gt $gte
  $in $exists $or $and``; comparisons only within one BSON type, as the server brackets them;
* expression operators: ``$literal $cond $eq $ne $gt $lt $gte $lte $ifNull $and $or $not``
  and field paths;
* ``delete_many`` removes every document the filter matches and counts them;
* a filter on ``_id`` (a value, or ``$in``) looks the documents up by key, as the ``_id``
  index does, instead of reading every document;
* update operators ``$set $setOnInsert $unset $inc`` (``$inc`` of a missing field starts
  from 0); ``find_one_and_update`` returns the document before or after
  (``ReturnDocument``), upserting as ``update_one`` does;
* index options that conflict with an existing index fail with code 85; ``collMod`` changes
  a TTL (the fake never expires anything: there is no TTL monitor).

Anything else raises ``NotImplementedError``, so the fake fails loudly instead of differing
quietly from the server.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.objectid import ObjectId
from pymongo import IndexModel, UpdateOne
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    InvalidOperation,
    OperationFailure,
    WriteError,
)
from pymongo.results import BulkWriteResult, DeleteResult, UpdateResult

__all__ = ["FakeAsyncMongoClient"]

Document = dict[str, Any]

_CODEC: CodecOptions[Document] = CodecOptions(tz_aware=True, tzinfo=UTC)


class _Missing:
    """A field that is not there (not null): one instance, kept by (deep)copy."""

    def __repr__(self) -> str:
        return "<missing>"

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: object) -> _Missing:
        return self


_MISSING: Any = _Missing()
_DUPLICATE_KEY = 11000
_IMMUTABLE_FIELD = 66
_INDEX_OPTIONS_CONFLICT = 85
_INDEX_KEY_SPECS_CONFLICT = 86


# --- values --------------------------------------------------------------------------------
def _roundtrip(doc: Mapping[str, Any]) -> Document:
    return bson.decode(bson.encode(doc), codec_options=_CODEC)


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set(doc: Document, path: str, value: Any) -> None:
    if "." in path:
        raise NotImplementedError(f"fake_mongo: dotted update path {path!r}")
    if value is _MISSING:
        doc.pop(path, None)
    else:
        doc[path] = value


def _rank(value: Any) -> int:
    """BSON comparison order of the types the store uses (missing sorts as null)."""
    if value is _MISSING or value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, Mapping):
        return 4
    if isinstance(value, list):
        return 5
    if isinstance(value, ObjectId):
        return 7
    if isinstance(value, datetime):
        return 9
    raise NotImplementedError(f"fake_mongo: comparing {type(value).__name__}")


def _compare(a: Any, b: Any) -> int:
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        return 0
    return -1 if a < b else (1 if a > b else 0)


def _same_type(a: Any, b: Any) -> bool:
    return a is not _MISSING and _rank(a) == _rank(b)


# --- queries -------------------------------------------------------------------------------
def _is_operator_doc(cond: Any) -> bool:
    return isinstance(cond, Mapping) and bool(cond) and all(k.startswith("$") for k in cond)


def _equals(value: Any, wanted: Any) -> bool:
    if wanted is None:
        return value is None or value is _MISSING
    return _same_type(value, wanted) and _compare(value, wanted) == 0


def _field_matches(value: Any, cond: Any) -> bool:
    if not _is_operator_doc(cond):
        return _equals(value, cond)
    for op, arg in cond.items():
        if op == "$eq":
            ok = _equals(value, arg)
        elif op == "$ne":
            ok = not _equals(value, arg)
        elif op in ("$lt", "$lte", "$gt", "$gte"):
            if not _same_type(value, arg):
                return False
            c = _compare(value, arg)
            ok = {"$lt": c < 0, "$lte": c <= 0, "$gt": c > 0, "$gte": c >= 0}[op]
        elif op == "$in":
            ok = any(_equals(value, a) for a in arg)
        elif op == "$exists":
            ok = (value is not _MISSING) == bool(arg)
        else:
            raise NotImplementedError(f"fake_mongo: query operator {op}")
        if not ok:
            return False
    return True


def _matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    for key, cond in query.items():
        if key == "$or":
            ok = any(_matches(doc, q) for q in cond)
        elif key == "$and":
            ok = all(_matches(doc, q) for q in cond)
        elif key.startswith("$"):
            raise NotImplementedError(f"fake_mongo: query operator {key}")
        else:
            ok = _field_matches(_get(doc, key), cond)
        if not ok:
            return False
    return True


# --- expressions and updates ---------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return not (value is _MISSING or value is None or value is False or value == 0)


def _evaluate(expr: Any, doc: Document) -> Any:
    if isinstance(expr, str) and expr.startswith("$$"):
        if expr == "$$ROOT":
            return copy.deepcopy(doc)
        raise NotImplementedError(f"fake_mongo: variable {expr}")
    if isinstance(expr, str) and expr.startswith("$"):
        return copy.deepcopy(_get(doc, expr[1:]))
    if isinstance(expr, list):
        return [_evaluate(e, doc) for e in expr]
    if isinstance(expr, Mapping):
        if len(expr) == 1:
            (op, arg), = expr.items()
            if op.startswith("$"):
                return _operator(op, arg, doc)
        if any(k.startswith("$") for k in expr):
            raise NotImplementedError(f"fake_mongo: expression {expr!r}")
        return {k: _evaluate(v, doc) for k, v in expr.items()}
    return expr


def _operator(op: str, arg: Any, doc: Document) -> Any:
    if op == "$literal":
        return copy.deepcopy(arg)
    if op == "$cond":
        if isinstance(arg, Mapping):
            arg = [arg["if"], arg["then"], arg["else"]]
        condition, then, otherwise = arg
        return _evaluate(then if _truthy(_evaluate(condition, doc)) else otherwise, doc)
    if op == "$ifNull":
        *candidates, fallback = arg
        for candidate in candidates:
            value = _evaluate(candidate, doc)
            if value is not None and value is not _MISSING:
                return value
        return _evaluate(fallback, doc)
    if op in ("$eq", "$ne"):
        a, b = (_evaluate(x, doc) for x in arg)
        same = a is b if _MISSING in (a, b) else _rank(a) == _rank(b) and _compare(a, b) == 0
        return same if op == "$eq" else not same
    if op in ("$gt", "$lt", "$gte", "$lte"):
        a, b = (_evaluate(x, doc) for x in arg)
        order = _compare(a, b)
        return {"$gt": order > 0, "$lt": order < 0, "$gte": order >= 0,
                "$lte": order <= 0}[op]
    if op == "$and":
        return all(_truthy(_evaluate(x, doc)) for x in arg)
    if op == "$or":
        return any(_truthy(_evaluate(x, doc)) for x in arg)
    if op == "$not":
        (inner,) = arg if isinstance(arg, list) else [arg]
        return not _truthy(_evaluate(inner, doc))
    raise NotImplementedError(f"fake_mongo: expression operator {op}")


def _apply_update(doc: Document, update: Any, inserting: bool) -> Document:
    new = copy.deepcopy(doc)
    if isinstance(update, list):
        for stage in update:
            ((name, spec),) = stage.items()
            if name not in ("$set", "$addFields"):
                raise NotImplementedError(f"fake_mongo: pipeline stage {name}")
            before = copy.deepcopy(new)
            for key, expr in spec.items():
                _set(new, key, _evaluate(expr, before))
    elif isinstance(update, Mapping) and _is_operator_doc(update):
        for name, spec in update.items():
            if name == "$set" or (name == "$setOnInsert" and inserting):
                for key, value in spec.items():
                    _set(new, key, copy.deepcopy(value))
            elif name == "$unset":
                for key in spec:
                    new.pop(key, None)
            elif name == "$inc":
                for key, step in spec.items():
                    current = _get(new, key)
                    _set(new, key, (0 if current is _MISSING else current) + step)
            elif name != "$setOnInsert":
                raise NotImplementedError(f"fake_mongo: update operator {name}")
    else:
        raise NotImplementedError("fake_mongo: replacement documents")
    if "_id" in doc and new.get("_id", _MISSING) != doc["_id"]:
        raise WriteError("Performing an update on the path '_id' would modify the immutable "
                         "field '_id'", _IMMUTABLE_FIELD)
    return new


def _seed(query: Mapping[str, Any]) -> Document:
    """The fields an upsert copies from its filter: top-level equality conditions."""
    seed: Document = {}
    for key, cond in query.items():
        if key.startswith("$") or "." in key:
            continue
        if isinstance(cond, Mapping) and _is_operator_doc(cond):
            if set(cond) == {"$eq"}:
                seed[key] = cond["$eq"]
            continue
        seed[key] = cond
    return seed


# --- client, database, collection ----------------------------------------------------------
class _Outcome:
    def __init__(self) -> None:
        self.matched = 0
        self.modified = 0
        self.upserted: list[Any] = []


class FakeCursor:
    def __init__(self, docs: list[Document]) -> None:
        self._docs = docs
        self._sort: list[tuple[str, int]] = []
        self._limit = 0

    def sort(self, key_or_list: Any, direction: int = 1) -> FakeCursor:
        self._sort = (list(key_or_list) if isinstance(key_or_list, list)
                      else [(key_or_list, direction)])
        return self

    def limit(self, limit: int) -> FakeCursor:
        self._limit = limit
        return self

    def _result(self) -> list[Document]:
        docs = list(self._docs)
        if self._sort:
            def order(a: Document, b: Document) -> int:
                for key, direction in self._sort:
                    c = _compare(_get(a, key), _get(b, key))
                    if c:
                        return c * (1 if direction >= 0 else -1)
                return 0
            docs.sort(key=functools.cmp_to_key(order))
        return docs[: self._limit] if self._limit else docs

    async def to_list(self, length: int | None = None) -> list[Document]:
        await asyncio.sleep(0)
        docs = self._result()
        return docs[:length] if length else docs

    async def __aiter__(self) -> AsyncIterator[Document]:
        for doc in await self.to_list():
            yield doc


class FakeCollection:
    def __init__(self, database: FakeDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self._docs: dict[Any, bytes] = {}
        self._indexes: dict[str, Document] = {"_id_": {"key": {"_id": 1}}}

    def _all(self) -> list[Document]:
        return [bson.decode(raw, codec_options=_CODEC) for raw in self._docs.values()]

    def _candidates(self, query: Mapping[str, Any]) -> list[Document]:
        """The documents ``query`` may match: by ``_id`` when it names one (or ``$in`` a
        list), as the server's ``_id`` index finds them; every document otherwise. Only a
        shortcut: each candidate is still matched against the whole query."""
        wanted = query.get("_id", _MISSING)
        if wanted is _MISSING or (isinstance(wanted, Mapping) and set(wanted) != {"$in"}):
            return self._all()
        keys = wanted["$in"] if isinstance(wanted, Mapping) else [wanted]
        return [bson.decode(self._docs[k], codec_options=_CODEC)
                for k in dict.fromkeys(keys) if k in self._docs]

    def _check(self) -> None:
        self.database.client._check_open()

    def _update(self, query: Mapping[str, Any], update: Any, upsert: bool) -> _Outcome:
        outcome = _Outcome()
        for doc in self._candidates(query):
            if _matches(doc, query):
                new = _roundtrip(_apply_update(doc, update, inserting=False))
                outcome.matched = 1
                if new != doc:
                    self._docs[doc["_id"]] = bson.encode(new)
                    outcome.modified = 1
                return outcome
        if upsert:
            new = _apply_update(_seed(query), update, inserting=True)
            new.setdefault("_id", ObjectId())
            self._insert(_roundtrip(new))
            outcome.upserted.append(new["_id"])
        return outcome

    def _insert(self, doc: Document) -> None:
        if doc["_id"] in self._docs:
            raise DuplicateKeyError(
                f"E11000 duplicate key error collection: {self.database.name}.{self.name} "
                f"index: _id_ dup key: {{ _id: {doc['_id']!r} }}", _DUPLICATE_KEY)
        self._docs[doc["_id"]] = bson.encode(doc)

    async def bulk_write(self, requests: Sequence[Any], ordered: bool = True,
                         **_: Any) -> BulkWriteResult:
        self._check()
        await asyncio.sleep(0)
        errors: list[Document] = []
        matched = modified = 0
        upserted: list[Document] = []
        for index, op in enumerate(requests):
            if not isinstance(op, UpdateOne):
                raise NotImplementedError(f"fake_mongo: bulk {type(op).__name__}")
            try:
                outcome = self._update(op._filter, op._doc, bool(op._upsert))
            except OperationFailure as exc:
                errors.append({"index": index, "code": exc.code, "errmsg": str(exc)})
                if ordered:
                    break
                continue
            matched += outcome.matched
            modified += outcome.modified
            upserted += [{"index": index, "_id": i} for i in outcome.upserted]
        result = {"writeErrors": errors, "writeConcernErrors": [], "nInserted": 0,
                  "nUpserted": len(upserted), "nMatched": matched, "nModified": modified,
                  "nRemoved": 0, "upserted": upserted}
        if errors:
            raise BulkWriteError(result)
        return BulkWriteResult(result, True)

    async def update_one(self, filter: Mapping[str, Any], update: Any, upsert: bool = False,
                         **_: Any) -> UpdateResult:
        self._check()
        await asyncio.sleep(0)
        outcome = self._update(filter, update, upsert)
        raw: Document = {"n": outcome.matched + len(outcome.upserted),
                         "nModified": outcome.modified, "ok": 1.0}
        if outcome.upserted:
            raw["upserted"] = outcome.upserted[0]
        return UpdateResult(raw, True)

    async def find_one_and_update(self, filter: Mapping[str, Any], update: Any,
                                  upsert: bool = False, return_document: bool = False,
                                  **_: Any) -> Document | None:
        """``return_document``: ``ReturnDocument.AFTER`` (``True``) or ``BEFORE``."""
        self._check()
        await asyncio.sleep(0)
        for doc in self._all():
            if _matches(doc, filter):
                new = _roundtrip(_apply_update(doc, update, inserting=False))
                self._docs[doc["_id"]] = bson.encode(new)
                return new if return_document else doc
        if not upsert:
            return None
        new = _apply_update(_seed(filter), update, inserting=True)
        new.setdefault("_id", ObjectId())
        new = _roundtrip(new)
        self._insert(new)
        return new if return_document else None

    async def update_many(self, filter: Mapping[str, Any], update: Any,
                          **_: Any) -> UpdateResult:
        self._check()
        await asyncio.sleep(0)
        matched = modified = 0
        for doc in self._all():
            if _matches(doc, filter):
                matched += 1
                new = _roundtrip(_apply_update(doc, update, inserting=False))
                if new != doc:
                    self._docs[doc["_id"]] = bson.encode(new)
                    modified += 1
        return UpdateResult({"n": matched, "nModified": modified, "ok": 1.0}, True)

    async def delete_many(self, filter: Mapping[str, Any], **_: Any) -> DeleteResult:
        self._check()
        await asyncio.sleep(0)
        gone = [d["_id"] for d in self._candidates(filter) if _matches(d, filter)]
        for key in gone:
            del self._docs[key]
        return DeleteResult({"n": len(gone), "ok": 1.0}, True)

    def find(self, filter: Mapping[str, Any] | None = None, *, sort: Any = None,
             limit: int = 0, **unsupported: Any) -> FakeCursor:
        if unsupported:
            raise NotImplementedError(f"fake_mongo: find options {sorted(unsupported)}")
        self._check()
        cursor = FakeCursor([d for d in self._candidates(filter or {})
                             if _matches(d, filter or {})])
        if sort is not None:
            cursor.sort(sort)
        return cursor.limit(limit)

    async def find_one(self, filter: Mapping[str, Any] | None = None) -> Document | None:
        docs = await self.find(filter).limit(1).to_list()
        return docs[0] if docs else None

    async def count_documents(self, filter: Mapping[str, Any], **_: Any) -> int:
        return len(await self.find(filter).to_list())

    async def create_indexes(self, indexes: Sequence[IndexModel], **_: Any) -> list[str]:
        self._check()
        await asyncio.sleep(0)
        names = []
        for model in indexes:
            spec = dict(model.document)
            name = spec.pop("name")
            key = list(dict(spec["key"]).items())  # order matters: (a, b) is not (b, a)
            for other_name, other in self._indexes.items():
                same_key = list(dict(other["key"]).items()) == key
                if other_name == name and not same_key:
                    raise OperationFailure(f"Index with name: {name} already exists with a "
                                           "different key", _INDEX_KEY_SPECS_CONFLICT)
                if same_key and (other_name != name or other != spec):
                    raise OperationFailure(f"Index already exists with different options: "
                                           f"{other_name}", _INDEX_OPTIONS_CONFLICT)
            self._indexes[name] = spec
            names.append(name)
        return names

    async def index_information(self) -> dict[str, Document]:
        self._check()
        return {name: {**spec, "key": list(dict(spec["key"]).items())}
                for name, spec in self._indexes.items()}

    def coll_mod(self, index: Mapping[str, Any]) -> None:
        name = index.get("name")
        if name not in self._indexes or set(index) != {"name", "expireAfterSeconds"}:
            raise NotImplementedError(f"fake_mongo: collMod index {index!r}")
        self._indexes[name]["expireAfterSeconds"] = index["expireAfterSeconds"]


class FakeDatabase:
    def __init__(self, client: FakeAsyncMongoClient, name: str) -> None:
        self.client = client
        self.name = name
        self._collections: dict[str, FakeCollection] = {}

    def get_collection(self, name: str, **_options: Any) -> FakeCollection:
        if name not in self._collections:
            self._collections[name] = FakeCollection(self, name)
        return self._collections[name]

    def __getitem__(self, name: str) -> FakeCollection:
        return self.get_collection(name)

    async def command(self, command: str, value: Any = 1, **kwargs: Any) -> Document:
        self.client._check_open()
        await asyncio.sleep(0)
        if command == "ping":
            return {"ok": 1.0}
        if command == "collMod":
            self.get_collection(value).coll_mod(kwargs["index"])
            return {"ok": 1.0}
        raise NotImplementedError(f"fake_mongo: command {command}")


class FakeAsyncMongoClient:
    """``FakeAsyncMongoClient()`` where the code under test takes an ``AsyncMongoClient``."""

    def __init__(self) -> None:
        self._databases: dict[str, FakeDatabase] = {}
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidOperation("Cannot use AsyncMongoClient after close")

    def get_database(self, name: str, **_options: Any) -> FakeDatabase:
        if name not in self._databases:
            self._databases[name] = FakeDatabase(self, name)
        return self._databases[name]

    def __getitem__(self, name: str) -> FakeDatabase:
        return self.get_database(name)

    def get_default_database(self, default: str | None = None, **_: Any) -> FakeDatabase:
        if default is None:
            raise NotImplementedError("fake_mongo: no database in a fake URL")
        return self.get_database(default)

    @property
    def admin(self) -> FakeDatabase:
        return self.get_database("admin")

    async def drop_database(self, name: str) -> None:
        self._databases.pop(name, None)

    async def close(self) -> None:
        self._closed = True


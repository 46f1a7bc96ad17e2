"""The MongoDB backend (pymongo's native async API), for everything past one machine.

One document per notification, ``_id`` = the notification id, the notification's fields at
the top level (dates as BSON dates, so they are queryable and the TTL monitor can read them)
plus ``status``, ``statusAt``, ``seenAt``, ``readAt`` and ``archivedAt``. Indexes:

* ``user_newest_first``: ``(tenantId, userId, createdAt desc, _id desc)`` for ``history``;
* ``user_unread``: ``(tenantId, userId, readAt)`` for ``unread_count``;
* ``user_unseen``: ``(tenantId, userId, seenAt)`` for ``counts``;
* ``retention``: a TTL index on ``statusAt`` (``STORE_RETENTION_DAYS``). A changed retention
  is applied to the existing index with ``collMod``; keep the setting the same in every
  service that opens the store, or they take turns changing it.

Writes: one unordered ``bulk_write`` of ``UpdateOne(upsert=True)`` per call. The filter is
``{_id, tenantId, userId}`` (an id stored for another user never matches, and on a sharded
collection the filter carries the shard key); the update is a pipeline whose ``$cond`` keeps
every field of a stored ``acked`` document when the new status is not ``acked``, and whose
``$ifNull`` keeps ``seenAt`` and ``readAt`` (``archivedAt``: the stored one, set or not; an
insert takes the row's); a body of a higher ``version``
(a digest's update) wins ``message``/``count``/``actors``/``version`` and the three states
(:func:`common.rows.merge`).
Every value goes in as ``$literal``, so a message that starts
with ``$`` stays text. A duplicate-key error means either two upserts of one new id raced
(the retry finds the document and merges) or the id is stored for another user (the retry
fails the same way; the record is dropped and logged). Writes use ``w: majority``, so a
confirmed batch survives a failover.

Configuration (issue 19) lives in four more collections, each ``_id`` made of the ids it
belongs to joined by ``/`` (no id, type name or locale holds one): ``event_types``
(``tenant/name``, the definition in ``def``), ``templates`` (``tenant/type/locale``; a deleted
template keeps its document with ``source: null``, so the next save continues its version,
``$inc`` in one ``find_one_and_update``), ``tenant_settings`` (``tenant``) and
``user_settings`` (``tenant/user``; the per-type choices as ``[[type, on], ...]``, since a
type name may hold a ``.``, which MongoDB reads as a path in a field name).

Topics (issue 20): ``subscriptions`` (``tenant/topic/user``; ``madeAt``), indexed
``(tenantId, topic, userId)`` to page a topic and ``(tenantId, userId, topic)`` for a user's
topics; ``known_users`` (``tenant/user``; ``at``), indexed ``(tenantId, userId)``. Both are
written insert-if-absent: one unordered ``bulk_write`` of ``$setOnInsert`` upserts, where a
duplicate-key error (two writers of one new id at once) means the other made it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, OperationFailure
from pymongo.write_concern import WriteConcern

from common.catalog import DEFAULT_LOCALE, TemplateDef, TenantConfig, TypeDef
from common.logs import get_logger
from common.millis import from_ms, to_ms, truncate
from common.models import Notification
from common.preferences import QuietHours, UserSettings
from common.records import InboxCounts, Mark, Status, StoredNotification
from common.rows import Row, collapse, row_of, version_of
from common.store.base import (
    MAX_EXPORT,
    MAX_MEMBER_PAGE,
    MAX_PAGE,
    check_limit,
    check_member_ids,
    check_settings_users,
)
from common.store.cursor import decode_cursor, encode_cursor
from common.tenancy import ApiKey, Tenant

__all__ = ["COLLECTION", "DEFAULT_DATABASE", "EVENT_TYPES", "KEYS", "KNOWN_USERS",
           "SUBSCRIPTIONS", "TEMPLATES", "TENANTS", "TENANT_SETTINGS", "USER_SETTINGS",
           "MongoStore", "upsert_op"]

log = get_logger(__name__)

Document = dict[str, Any]

DEFAULT_DATABASE = "herald"
COLLECTION = "notifications"
TENANTS = "tenants"
KEYS = "api_keys"
EVENT_TYPES = "event_types"
TEMPLATES = "templates"
TENANT_SETTINGS = "tenant_settings"
USER_SETTINGS = "user_settings"
SUBSCRIPTIONS = "subscriptions"
KNOWN_USERS = "known_users"
DUPLICATE_KEY = 11000
INDEX_OPTIONS_CONFLICT = 85
_KEPT_IF_ACKED = {"$eq": ["$status", Status.ACKED.value]}
_NEW_DOC = {"$eq": [{"$ifNull": ["$status", None]}, None]}
"""The upsert is inserting (the document has no status yet)."""
_VERSIONED = ("message", "count", "actors", "version")
"""The fields a digest's update changes: a higher ``version`` wins them."""


def _fields(row: Row) -> Document:
    values = {k: v for k, v in row.notification.items() if k != "id"}
    values["status"] = row.status
    values["statusAt"] = from_ms(row.status_ms)
    return values


_STORED_VERSION = {"$ifNull": ["$version", 1]}


def upsert_op(row: Row) -> UpdateOne:
    """The idempotent upsert of one row, with the merge rule (:func:`common.rows.merge`) in
    the update: a higher ``version`` wins the body and ``readAt`` (an update of a digest
    marks it unread again), an older one changes neither."""
    values = _fields(row)
    version = version_of(row)
    newer = {"$gt": [{"$literal": version}, _STORED_VERSION]}
    older = {"$lt": [{"$literal": version}, _STORED_VERSION]}
    if row.status == Status.ACKED.value:
        stage: Document = {k: {"$literal": v} for k, v in values.items()}
    else:
        stage = {k: {"$cond": [_KEPT_IF_ACKED, f"${k}", {"$literal": v}]}
                 for k, v in values.items()}
    for k in _VERSIONED:
        same = stage[k]
        stage[k] = {"$cond": [newer, {"$literal": values[k]},
                              {"$cond": [older, f"${k}", same]}]}
    for name, ms in (("readAt", row.read_ms), ("seenAt", row.seen_ms),
                     ("archivedAt", row.archived_ms)):
        at = from_ms(ms) if ms is not None else None
        # archivedAt of the same version: only an insert takes it (common.rows.merge)
        same = {"$cond": [_NEW_DOC, {"$literal": at}, f"${name}"]} if name == "archivedAt" \
            else {"$ifNull": [f"${name}", {"$literal": at}]}
        stage[name] = {"$cond": [newer, {"$literal": at},
                                 {"$cond": [older, f"${name}", same]}]}
    owner = {"_id": row.id, "tenantId": row.tenant_id, "userId": row.user_id}
    return UpdateOne(owner, [{"$set": stage}], upsert=True)


def _utc(value: Any) -> Any:
    """BSON dates are UTC; a client made without ``tz_aware=True`` returns them naive."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _record_of(doc: Document) -> StoredNotification:
    fields = {k: _utc(doc.get(k)) for k in ("tenantId", "userId", "type", "actorId", "eventId",
                                            "postId", "commentId", "message", "priority",
                                            "createdAt", "expiresAt")}
    for k in _VERSIONED[1:]:  # absent from documents stored before digests: the defaults
        if doc.get(k) is not None:
            fields[k] = doc[k]
    return StoredNotification(
        notification=Notification.model_validate({"id": doc["_id"], **fields}),
        status=Status(doc["status"]),
        statusAt=_utc(doc["statusAt"]),
        readAt=_utc(doc.get("readAt")),
        seenAt=_utc(doc.get("seenAt")),
        archivedAt=_utc(doc.get("archivedAt")),
    )


_STATE_FIELD = {"seen": "seenAt", "read": "readAt", "archived": "archivedAt"}


def _mark_update(mark: Mark, at: datetime) -> list[Document]:
    """The update pipeline of a mark: each state it implies kept once set."""
    if mark is Mark.UNARCHIVED:
        return [{"$set": {"archivedAt": None}}]
    when = {"$literal": truncate(at)}
    fields = [_STATE_FIELD[state] for state in mark.sets]
    return [{"$set": {f: {"$ifNull": [f"${f}", when]} for f in fields}}]


def _lacks(mark: Mark) -> Document:
    if mark is Mark.UNARCHIVED:
        return {"archivedAt": {"$ne": None}}
    return {_STATE_FIELD[mark.sets[-1]]: None}


def _tenant_of(doc: Document) -> Tenant:
    return Tenant(doc["_id"], doc["name"], _utc(doc["createdAt"]), doc.get("rate"),
                  doc.get("burst"))


def _key_of(doc: Document) -> ApiKey:
    return ApiKey(doc["_id"], doc["tenantId"], doc["hash"], frozenset(doc["scopes"]),
                  _utc(doc["createdAt"]), _utc(doc.get("revokedAt")), doc.get("name", ""))


def _settings_of(doc: Document) -> UserSettings:
    quiet = doc.get("quietHours")
    return UserSettings(doc.get("locale"), doc.get("timeZone"),
                        {name: bool(on) for name, on in doc.get("types") or []},
                        QuietHours.from_json(quiet) if quiet else None,
                        _utc(doc.get("updatedAt")))


def _template_of(doc: Document) -> TemplateDef:
    return TemplateDef(doc["type"], doc["locale"], doc["source"], int(doc["version"]),
                       _utc(doc["updatedAt"]))


def _only_duplicate_keys(exc: BulkWriteError) -> list[int] | None:
    """Indexes of the ops that failed on a duplicate key, or ``None`` if anything else failed."""
    details = exc.details
    errors = details.get("writeErrors") or []
    if details.get("writeConcernErrors") or not errors:
        return None
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        return None
    return [int(e["index"]) for e in errors]


class MongoStore:
    """Open with :meth:`open`, or wrap a client (tests) and call :meth:`ensure_schema`."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str = DEFAULT_DATABASE,
        *,
        retention_days: float = 90.0,
    ) -> None:
        self._client = client
        self._database = client[database]
        self._coll: AsyncCollection[Document] = self._database.get_collection(
            COLLECTION, write_concern=WriteConcern(w="majority")
        )
        self._tenants: AsyncCollection[Document] = self._database.get_collection(
            TENANTS, write_concern=WriteConcern(w="majority"))
        self._keys: AsyncCollection[Document] = self._database.get_collection(
            KEYS, write_concern=WriteConcern(w="majority"))
        self._types, self._templates, self._tenant_settings, self._user_settings = (
            self._database.get_collection(name, write_concern=WriteConcern(w="majority"))
            for name in (EVENT_TYPES, TEMPLATES, TENANT_SETTINGS, USER_SETTINGS))
        self._subscriptions, self._known = (
            self._database.get_collection(name, write_concern=WriteConcern(w="majority"))
            for name in (SUBSCRIPTIONS, KNOWN_USERS))
        self._retention_seconds = int(timedelta(days=retention_days).total_seconds())

    @property
    def backend(self) -> str:
        return "mongodb"

    @classmethod
    async def open(cls, url: str, *, retention_days: float = 90.0) -> MongoStore:
        """Connect and make the indexes; raises (``ServerSelectionTimeoutError`` after 5 s)
        when MongoDB does not answer."""
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            url, tz_aware=True, tzinfo=UTC, serverSelectionTimeoutMS=5000,
            connectTimeoutMS=5000, appname="herald",
        )
        try:
            name = client.get_default_database(DEFAULT_DATABASE).name
            store = cls(client, name, retention_days=retention_days)
            await store.ensure_schema()
        except BaseException:
            await client.close()
            raise
        return store

    async def ensure_schema(self) -> None:
        indexes = [
            IndexModel([("tenantId", 1), ("userId", 1), ("createdAt", -1), ("_id", -1)],
                       name="user_newest_first"),
            IndexModel([("tenantId", 1), ("userId", 1), ("readAt", 1)], name="user_unread"),
            IndexModel([("tenantId", 1), ("userId", 1), ("seenAt", 1)], name="user_unseen"),
        ]
        await self._coll.create_indexes(indexes)
        await self._keys.create_indexes([
            IndexModel([("tenantId", 1), ("createdAt", 1), ("_id", 1)], name="tenant_keys"),
        ])
        for collection in (self._types, self._templates):
            await collection.create_indexes([IndexModel([("tenantId", 1)], name="tenant")])
        await self._subscriptions.create_indexes([
            IndexModel([("tenantId", 1), ("topic", 1), ("userId", 1)], name="topic_members"),
            IndexModel([("tenantId", 1), ("userId", 1), ("topic", 1)], name="user_topics"),
        ])
        await self._known.create_indexes([
            IndexModel([("tenantId", 1), ("userId", 1)], name="tenant_users")])
        retention = IndexModel([("statusAt", 1)], name="retention",
                               expireAfterSeconds=self._retention_seconds)
        try:
            await self._coll.create_indexes([retention])
        except OperationFailure as exc:
            if exc.code != INDEX_OPTIONS_CONFLICT:
                raise
            await self._database.command(
                "collMod", COLLECTION,
                index={"name": "retention", "expireAfterSeconds": self._retention_seconds},
            )
            log.info("store retention changed", days=self._retention_seconds / 86400)

    async def upsert_many(self, records: Sequence[StoredNotification]) -> None:
        await self.upsert_rows([row_of(r) for r in records])

    async def upsert_rows(self, rows: Sequence[Row]) -> None:
        merged = collapse(rows)
        ops = [upsert_op(r) for r in merged]
        if not ops:
            return
        try:
            await self._coll.bulk_write(ops, ordered=False)
            return
        except BulkWriteError as exc:
            failed = _only_duplicate_keys(exc)
            if failed is None:
                raise
        retry = [ops[i] for i in failed]
        try:
            await self._coll.bulk_write(retry, ordered=False)
        except BulkWriteError as exc:
            again = _only_duplicate_keys(exc)
            if again is None:
                raise
            # Still a duplicate key with the document in place: the id is another user's.
            ids = [merged[failed[i]].id for i in again]
            log.warning("notification ids stored for another tenant or user were not written",
                        notificationIds=ids[:20], count=len(ids))

    async def history(
        self, tenant_id: str, user_id: str, limit: int, cursor: str | None = None,
        *, archived: bool = False,
    ) -> tuple[list[StoredNotification], str | None]:
        check_limit(limit)
        query: Document = {"tenantId": tenant_id, "userId": user_id,
                           "archivedAt": {"$ne": None} if archived else None}
        if cursor is not None:
            created_ms, last_id = decode_cursor(cursor)
            at = from_ms(created_ms)
            query["$or"] = [{"createdAt": {"$lt": at}},
                            {"createdAt": at, "_id": {"$lt": last_id}}]
        found = self._coll.find(query, sort=[("createdAt", -1), ("_id", -1)], limit=limit + 1)
        docs = await found.to_list()
        page = [_record_of(d) for d in docs[:limit]]
        following = None
        if len(docs) > limit:
            last = page[-1].notification
            following = encode_cursor(to_ms(last.createdAt), last.id)
        return page, following

    async def unread_count(self, tenant_id: str, user_id: str) -> int:
        return await self._coll.count_documents(
            {"tenantId": tenant_id, "userId": user_id, "readAt": None}
        )

    async def counts(self, tenant_id: str, user_id: str) -> InboxCounts:
        # Two counts on the user's indexes: without a transaction MongoDB reads them one
        # after the other (SQLite's is one snapshot); the gap is a query's length.
        owner = {"tenantId": tenant_id, "userId": user_id}
        unseen = await self._coll.count_documents({**owner, "seenAt": None})
        unread = await self._coll.count_documents({**owner, "readAt": None})
        return InboxCounts(unseen, unread)

    async def mark(self, tenant_id: str, user_id: str, notification_ids: Sequence[str],
                   mark: Mark, at: datetime) -> list[str]:
        check_limit(len(notification_ids) or 1, MAX_PAGE)
        if not notification_ids:
            return []
        owner = {"_id": {"$in": list(notification_ids)}, "tenantId": tenant_id,
                 "userId": user_id}
        await self._coll.update_many(owner, _mark_update(mark, at))
        found = await self._coll.find(owner).to_list()
        return [d["_id"] for d in found]

    async def mark_all(self, tenant_id: str, user_id: str, mark: Mark, at: datetime,
                       created_until: datetime) -> int:
        query = {"tenantId": tenant_id, "userId": user_id,
                 "createdAt": {"$lte": truncate(created_until)}, **_lacks(mark)}
        result = await self._coll.update_many(query, _mark_update(mark, at))
        return int(result.modified_count)

    async def mark_read(
        self, tenant_id: str, user_id: str, notification_id: str, at: datetime
    ) -> bool:
        return bool(await self.mark(tenant_id, user_id, [notification_id], Mark.READ, at))

    async def mark_all_read(self, tenant_id: str, user_id: str, at: datetime) -> int:
        return await self.mark_all(tenant_id, user_id, Mark.READ, at, at)

    async def get(
        self, tenant_id: str, user_id: str, notification_id: str
    ) -> StoredNotification | None:
        doc = await self._coll.find_one(
            {"_id": notification_id, "tenantId": tenant_id, "userId": user_id}
        )
        return _record_of(doc) if doc is not None else None

    async def erase_user(
        self, tenant_id: str, user_id: str, *, created_until: datetime | None = None
    ) -> int:
        query: Document = {"tenantId": tenant_id, "userId": user_id}
        if created_until is not None:
            query["createdAt"] = {"$lte": truncate(created_until)}
        settings: Document = {"_id": f"{tenant_id}/{user_id}"}
        if created_until is not None:
            settings["updatedAt"] = {"$lte": truncate(created_until)}
        await self._user_settings.delete_many(settings)
        owned: Document = {"tenantId": tenant_id, "userId": user_id}
        topics, known = dict(owned), dict(owned)
        if created_until is not None:
            topics["madeAt"] = {"$lte": truncate(created_until)}
            known["at"] = {"$lte": truncate(created_until)}
        await self._subscriptions.delete_many(topics)
        await self._known.delete_many(known)
        result = await self._coll.delete_many(query)  # w: majority, as every write here
        return int(result.deleted_count)

    async def export_user(
        self, tenant_id: str, user_id: str, limit: int
    ) -> list[StoredNotification]:
        check_limit(limit, MAX_EXPORT)
        found = self._coll.find({"tenantId": tenant_id, "userId": user_id},
                                sort=[("createdAt", -1), ("_id", -1)], limit=limit)
        return [_record_of(d) for d in await found.to_list()]

    async def create_tenant(self, tenant: Tenant) -> bool:
        doc = {"name": tenant.name, "createdAt": truncate(tenant.created_at),
               "rate": tenant.rate_per_second, "burst": tenant.burst}
        result = await self._tenants.update_one({"_id": tenant.id}, {"$setOnInsert": doc},
                                                upsert=True)
        return result.upserted_id is not None

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        doc = await self._tenants.find_one({"_id": tenant_id})
        return _tenant_of(doc) if doc is not None else None

    async def list_tenants(self) -> list[Tenant]:
        found = self._tenants.find({}, sort=[("createdAt", 1), ("_id", 1)])
        return [_tenant_of(d) for d in await found.to_list()]

    async def set_tenant_limits(
        self, tenant_id: str, rate_per_second: float | None, burst: int | None
    ) -> bool:
        result = await self._tenants.update_one(
            {"_id": tenant_id}, {"$set": {"rate": rate_per_second, "burst": burst}})
        return result.matched_count == 1

    async def add_key(self, key: ApiKey) -> bool:
        doc = {"tenantId": key.tenant_id, "hash": key.hash, "scopes": sorted(key.scopes),
               "createdAt": truncate(key.created_at),
               "revokedAt": truncate(key.revoked_at) if key.revoked_at else None,
               "name": key.name}
        result = await self._keys.update_one({"_id": key.key_id}, {"$setOnInsert": doc},
                                             upsert=True)
        return result.upserted_id is not None

    async def get_key(self, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return _key_of(doc) if doc is not None else None

    async def list_keys(self, tenant_id: str) -> list[ApiKey]:
        found = self._keys.find({"tenantId": tenant_id}, sort=[("createdAt", 1), ("_id", 1)])
        return [_key_of(d) for d in await found.to_list()]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        await self._keys.update_one({"_id": key_id, "revokedAt": None},
                                    {"$set": {"revokedAt": truncate(at)}})
        return await self.get_key(key_id)

    async def get_tenant_config(self, tenant_id: str) -> TenantConfig:
        types = await self._types.find({"tenantId": tenant_id}).to_list()
        templates = await self._templates.find(
            {"tenantId": tenant_id, "source": {"$ne": None}}).to_list()
        settings = await self._tenant_settings.find_one({"_id": tenant_id})
        defs = [TypeDef.from_json(doc["def"]) for doc in types]
        stored = [_template_of(doc) for doc in templates]
        return TenantConfig(tenant_id, {d.name: d for d in defs},
                            {(t.type, t.locale): t for t in stored},
                            settings["defaultLocale"] if settings else DEFAULT_LOCALE)

    async def put_type(self, tenant_id: str, typedef: TypeDef) -> bool:
        doc = {"tenantId": tenant_id, "name": typedef.name, "def": typedef.to_json()}
        result = await self._types.update_one({"_id": f"{tenant_id}/{typedef.name}"},
                                              {"$set": doc}, upsert=True)
        return result.upserted_id is not None

    async def delete_type(self, tenant_id: str, name: str) -> bool:
        result = await self._types.delete_many({"_id": f"{tenant_id}/{name}"})
        return result.deleted_count == 1

    async def put_template(self, tenant_id: str, type_name: str, locale: str, source: str,
                           at: datetime) -> TemplateDef:
        doc = await self._templates.find_one_and_update(
            {"_id": f"{tenant_id}/{type_name}/{locale}"},
            {"$set": {"tenantId": tenant_id, "type": type_name, "locale": locale,
                      "source": source, "updatedAt": truncate(at)},
             "$inc": {"version": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        assert doc is not None  # an upsert returning the document after always has one
        return _template_of(doc)

    async def delete_template(self, tenant_id: str, type_name: str, locale: str) -> bool:
        result = await self._templates.update_one(
            {"_id": f"{tenant_id}/{type_name}/{locale}", "source": {"$ne": None}},
            {"$set": {"source": None}})
        return result.matched_count == 1

    async def set_default_locale(self, tenant_id: str, locale: str) -> None:
        await self._tenant_settings.update_one(
            {"_id": tenant_id}, {"$set": {"defaultLocale": locale}}, upsert=True)

    async def get_user_settings(self, tenant_id: str, user_ids: Sequence[str]
                                ) -> dict[str, UserSettings]:
        check_settings_users(user_ids)
        if not user_ids:
            return {}
        found = self._user_settings.find(
            {"_id": {"$in": [f"{tenant_id}/{u}" for u in user_ids]}, "tenantId": tenant_id})
        return {doc["userId"]: _settings_of(doc) for doc in await found.to_list()}

    async def _put_settings(self, tenant_id: str, user_id: str, values: Document,
                            defaults: Document) -> UserSettings:
        doc = await self._user_settings.find_one_and_update(
            {"_id": f"{tenant_id}/{user_id}"},
            {"$set": {"tenantId": tenant_id, "userId": user_id, **values},
             "$setOnInsert": defaults},
            upsert=True, return_document=ReturnDocument.AFTER)
        assert doc is not None
        return _settings_of(doc)

    async def put_profile(self, tenant_id: str, user_id: str, locale: str | None,
                          time_zone: str | None, at: datetime) -> UserSettings:
        return await self._put_settings(
            tenant_id, user_id,
            {"locale": locale, "timeZone": time_zone, "updatedAt": truncate(at)},
            {"types": [], "quietHours": None})

    async def put_preferences(self, tenant_id: str, user_id: str, types: Mapping[str, bool],
                              quiet_hours: QuietHours | None, at: datetime) -> UserSettings:
        return await self._put_settings(
            tenant_id, user_id,
            {"types": [[name, bool(on)] for name, on in types.items()],
             "quietHours": quiet_hours.to_json() if quiet_hours is not None else None,
             "updatedAt": truncate(at)},
            {"locale": None, "timeZone": None})

    async def _insert_absent(self, collection: AsyncCollection[Document],
                             docs: dict[str, Document]) -> int:
        """Insert the documents (by ``_id``) that are not there yet; how many were new."""
        if not docs:
            return 0
        ops = [UpdateOne({"_id": key}, {"$setOnInsert": doc}, upsert=True)
               for key, doc in docs.items()]
        try:
            result = await collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            if _only_duplicate_keys(exc) is None:
                raise
            # Another writer made those at the same time: theirs, not new here.
            return int(exc.details.get("nUpserted", 0))
        return int(result.upserted_count)

    async def subscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str],
                        at: datetime) -> int:
        made = truncate(at)
        return await self._insert_absent(self._subscriptions, {
            f"{tenant_id}/{topic}/{user}": {"tenantId": tenant_id, "topic": topic,
                                            "userId": user, "madeAt": made}
            for user in check_member_ids(user_ids)})

    async def unsubscribe(self, tenant_id: str, topic: str, user_ids: Sequence[str]) -> int:
        ids = check_member_ids(user_ids)
        if not ids:
            return 0
        result = await self._subscriptions.delete_many(
            {"_id": {"$in": [f"{tenant_id}/{topic}/{user}" for user in ids]}})
        return int(result.deleted_count)

    async def subscribers(self, tenant_id: str, topic: str, *, after: str | None, limit: int,
                          made_until: datetime | None = None) -> list[str]:
        check_limit(limit, MAX_MEMBER_PAGE)
        query: Document = {"tenantId": tenant_id, "topic": topic}
        if after is not None:
            query["userId"] = {"$gt": after}
        if made_until is not None:
            query["madeAt"] = {"$lte": truncate(made_until)}
        found = self._subscriptions.find(query, sort=[("userId", 1)], limit=limit)
        return [doc["userId"] for doc in await found.to_list()]

    async def topics_of(self, tenant_id: str, user_id: str) -> list[str]:
        found = self._subscriptions.find({"tenantId": tenant_id, "userId": user_id},
                                         sort=[("topic", 1)])
        return [doc["topic"] for doc in await found.to_list()]

    async def add_known_users(self, tenant_id: str, user_ids: Sequence[str],
                              at: datetime) -> int:
        made = truncate(at)
        return await self._insert_absent(self._known, {
            f"{tenant_id}/{user}": {"tenantId": tenant_id, "userId": user, "at": made}
            for user in check_member_ids(user_ids)})

    async def known_users(self, tenant_id: str, *, after: str | None, limit: int) -> list[str]:
        check_limit(limit, MAX_MEMBER_PAGE)
        query: Document = {"tenantId": tenant_id}
        if after is not None:
            query["userId"] = {"$gt": after}
        found = self._known.find(query, sort=[("userId", 1)], limit=limit)
        return [doc["userId"] for doc in await found.to_list()]

    async def prune(self, now: datetime) -> int:
        return 0  # the TTL index on statusAt does it

    async def ping(self) -> None:
        await self._client.admin.command("ping")

    async def close(self) -> None:
        await self._client.close()

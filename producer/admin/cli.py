"""``python -m producer.admin``: manage tenants and API keys directly on the store.

Works on the store ``STORE_URL`` names (the same the producer reads), with the operations of
:mod:`producer.admin.tenants`, as the admin API does::

    python -m producer.admin tenants create acme [--name "Acme Inc"]
    python -m producer.admin tenants list
    python -m producer.admin keys create acme --scopes events:write,notifications:read
    python -m producer.admin keys list acme
    python -m producer.admin keys revoke <keyId>
    python -m producer.admin keys rotate <keyId>
    python -m producer.admin limits set acme --rate 100 --burst 200   # or --default

Output is JSON on stdout. A new key is printed once (``"key"``): keep it, it cannot be shown
again. A refused operation prints ``herald admin: <message>`` on stderr and exits 1; a bad
command line exits 2. Producers see a revocation within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from common.settings import load_settings
from common.store.base import Store
from common.store.factory import open_store
from common.store.settings import StoreSettings
from common.tenancy import SCOPES
from producer.admin import tenants as ops

__all__ = ["main", "parser", "run"]


class _AdminSettings(StoreSettings):
    pass


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m producer.admin",
                                  description="Manage Herald's tenants and API keys "
                                              "(on the store STORE_URL names).")
    groups = top.add_subparsers(dest="group", required=True)

    tenants = groups.add_parser("tenants").add_subparsers(dest="action", required=True)
    create = tenants.add_parser("create", help="make a tenant")
    create.add_argument("tenant")
    create.add_argument("--name")
    tenants.add_parser("list", help="every tenant")

    keys = groups.add_parser("keys").add_subparsers(dest="action", required=True)
    make = keys.add_parser("create", help="make a key (printed once)")
    make.add_argument("tenant")
    make.add_argument("--scopes", required=True,
                      help=f"comma-separated, of: {', '.join(SCOPES)}")
    make.add_argument("--name", default="")
    listing = keys.add_parser("list", help="a tenant's keys (by prefix, never the key)")
    listing.add_argument("tenant")
    for action, what in (("revoke", "refuse the key from now on"),
                         ("rotate", "a new key of the same tenant and scopes")):
        one = keys.add_parser(action, help=what)
        one.add_argument("key_id")

    limits = groups.add_parser("limits").add_subparsers(dest="action", required=True)
    limit = limits.add_parser("set", help="a tenant's rate limit")
    limit.add_argument("tenant")
    limit.add_argument("--rate", type=float, help="events per second")
    limit.add_argument("--burst", type=int, help="the most events at once")
    limit.add_argument("--default", action="store_true",
                       help="back to RATE_LIMIT_PER_SECOND/RATE_LIMIT_BURST")
    return top


async def run(store: Store, args: argparse.Namespace) -> Any:
    """What the command prints (JSON-able); raises :class:`~producer.admin.tenants.AdminError`."""
    match args.group, args.action:
        case "tenants", "create":
            return (await ops.create_tenant(store, args.tenant, args.name)).to_json()
        case "tenants", "list":
            return {"tenants": [t.to_json() for t in await ops.list_tenants(store)]}
        case "keys", "create":
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
            return (await ops.create_key(store, args.tenant, scopes, args.name)).to_json()
        case "keys", "list":
            return {"keys": [k.to_json() for k in await ops.list_keys(store, args.tenant)]}
        case "keys", "revoke":
            return (await ops.revoke_key(store, args.key_id)).to_json()
        case "keys", "rotate":
            return (await ops.rotate_key(store, args.key_id)).to_json()
        case "limits", "set":
            if args.default:
                return (await ops.set_limits(store, args.tenant, None, None)).to_json()
            if args.rate is None or args.burst is None:
                raise ops.AdminError(422, "invalid_request",
                                     "give --rate and --burst, or --default")
            return (await ops.set_limits(store, args.tenant, args.rate, args.burst)).to_json()
    raise AssertionError(f"unhandled command {args.group} {args.action}")


async def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings(_AdminSettings, "admin")
    store = await open_store(settings.store_url, retention_days=settings.store_retention_days)
    try:
        result = await run(store, args)
    except ops.AdminError as error:
        print(f"herald admin: {error.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(argv))


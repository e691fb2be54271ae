"""`python -m sandbox`: serve the sandbox with werkzeug's threaded server.

Prints exactly one line on stdout, `Factorial sandbox listening on http://HOST:PORT`, once the
socket is bound (with the real port when `--port 0`), so callers can wait for it. Before that,
stderr says whether the database was seeded fresh or resumed from an earlier run.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from sqlalchemy.exc import DatabaseError
from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import DEFAULT_REDIRECT_URI, MODES, RuntimeSettings, SandboxConfig
from sandbox.store import ForeignDatabase


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--db",
        default=":memory:",
        help="SQLite file path (kept across restarts) or :memory: (seeded fresh each start)",
    )
    parser.add_argument("--mode", choices=MODES, default="demo")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        help="registered redirect URI; repeatable or comma-separated",
    )
    parser.add_argument("--access-token-ttl", type=int, default=3600)
    parser.add_argument("--refresh-token-ttl", type=int, default=7 * 24 * 3600)
    parser.add_argument("--reuse-grace", type=int, default=0)
    parser.add_argument(
        "--company-token-ttl",
        type=int,
        default=None,
        help="seconds; default: company tokens never expire",
    )
    parser.add_argument(
        "--company-refresh", action="store_true", help="issue refresh tokens with company tokens"
    )
    parser.add_argument("--require-pkce", action="store_true")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    settings = RuntimeSettings(
        access_token_ttl=args.access_token_ttl,
        refresh_token_ttl=args.refresh_token_ttl,
        reuse_grace=args.reuse_grace,
        company_token_ttl=args.company_token_ttl,
        company_refresh=args.company_refresh,
        require_pkce=args.require_pkce,
    )
    return SandboxConfig(
        mode=args.mode,
        db=args.db,
        settings=settings,
        redirect_uris=tuple(args.redirect_uris or [DEFAULT_REDIRECT_URI]),
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not _is_loopback(args.host):
        # authlib refuses plain-HTTP OAuth off loopback; the sandbox is plain HTTP by design.
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    try:
        app = create_app(config_from(args))
    except (DatabaseError, ForeignDatabase) as exc:
        reason = exc.orig if isinstance(exc, DatabaseError) else exc
        print(f"Factorial sandbox cannot use --db {args.db}: {reason}", file=sys.stderr)
        return 2
    print(f"Factorial sandbox: {app.extensions['sandbox'].origin}", file=sys.stderr, flush=True)
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        print(f"Factorial sandbox cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"Factorial sandbox listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

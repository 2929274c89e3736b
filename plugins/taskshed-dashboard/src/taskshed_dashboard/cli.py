"""``taskshed dashboard``: serve the dashboard with uvicorn."""

from __future__ import annotations

import argparse
import logging
import os

from taskshed.cli.options import add_store_options, describe_store, store_from_args
from taskshed.errors import ConfigurationError
from taskshed_dashboard.auth import Auth, BasicAuth, TokenAuth, is_loopback
from taskshed_dashboard.masking import mask_secrets

log = logging.getLogger("taskshed.dashboard")

TOKEN_ENV = "TASKSHED_DASHBOARD_TOKEN"
BASIC_AUTH_ENV = "TASKSHED_DASHBOARD_BASIC_AUTH"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the web dashboard",
        description="Serve the web dashboard: the schedule by state, tasks, groups and workers, "
        "with pause/resume/run now/retry/remove. Binding to anything but loopback needs "
        f"a token (--token or ${TOKEN_ENV}) or basic-auth credentials "
        f"(--basic-auth or ${BASIC_AUTH_ENV}).",
    )
    add_store_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (8080)")
    parser.add_argument(
        "--read-only", action="store_true", help="show everything, change nothing (no actions)"
    )
    parser.add_argument(
        "--hide-kwargs", action="store_true", help="never show task kwargs (personal data)"
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"require this access token, 16+ characters (prefer ${TOKEN_ENV}: "
        "command lines are visible to other users)",
    )
    parser.add_argument(
        "--basic-auth",
        metavar="USER:PASSWORD",
        help=f"require these basic-auth credentials (prefer ${BASIC_AUTH_ENV})",
    )
    parser.add_argument(
        "--root-path",
        default="",
        metavar="PATH",
        help="the path prefix a reverse proxy serves the dashboard under (e.g. /taskshed)",
    )
    parser.set_defaults(func=run)


def auth_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Auth | None:
    """The authentication asked for by options, else by the environment."""
    env = os.environ if environ is None else environ
    token = args.token or env.get(TOKEN_ENV) or None
    basic = args.basic_auth or env.get(BASIC_AUTH_ENV) or None
    if args.token and args.basic_auth:
        raise ConfigurationError("give either --token or --basic-auth, not both")
    if args.token:
        basic = None
    elif args.basic_auth:
        token = None
    if token and basic:
        raise ConfigurationError(f"set either ${TOKEN_ENV} or ${BASIC_AUTH_ENV}, not both")
    try:
        if token:
            return TokenAuth(token)
        if basic:
            return BasicAuth.parse(basic)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return None


def check_binding(host: str, auth: Auth | None) -> None:
    """Refuse to serve beyond this machine without authentication."""
    if auth is None and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to serve the dashboard on {host} without authentication: "
            f"set a token (--token or ${TOKEN_ENV}) or basic-auth credentials "
            f"(--basic-auth or ${BASIC_AUTH_ENV}), or bind to 127.0.0.1"
        )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from taskshed_dashboard.app import create_app

    if not 0 < args.port < 65536:
        raise ConfigurationError(f"--port must be between 1 and 65535, not {args.port}")
    auth = auth_from(args)
    check_binding(args.host, auth)
    store = store_from_args(args)
    label = mask_secrets(describe_store(args))
    app = create_app(
        store,
        read_only=args.read_only,
        hide_kwargs=args.hide_kwargs,
        auth=auth,
        store_label=label,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    log.info(
        "dashboard for %s on http://%s:%d%s/%s%s",
        label,
        host,
        args.port,
        args.root_path.rstrip("/"),
        " (read-only)" if args.read_only else "",
        f", {type(auth).__name__} required" if auth else "",
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        root_path=args.root_path.rstrip("/"),
        log_config=None,  # taskshed's logging setup is kept
        server_header=False,
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly on Ctrl-C, then re-raises it for the caller.
        pass
    return 0

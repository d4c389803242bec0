"""``gistsched user add`` and ``feed create/revoke`` (event-contract.md §3): who may see what."""

from __future__ import annotations

import argparse
import json
import sys

from scheduler.cli_pipeline import StoreError, _sessions


def cmd_user_add(args: argparse.Namespace) -> int:
    from scheduler.settings import load_settings
    from scheduler.users import UserError, create_user

    password = sys.stdin.readline().rstrip("\r\n")
    settings = load_settings()
    try:
        created = create_user(
            _sessions(settings), args.username, args.role, password, args.navigator_id, args.email
        )
    except UserError as exc:
        raise StoreError(str(exc)) from None
    print(json.dumps({"username": created.username, "token": created.token}))
    return 0


CLI_ACTOR = "cli"  # the audit trail's name for the operator at the command line


def cmd_feed_create(args: argparse.Namespace) -> int:
    from scheduler import audit
    from scheduler.feeds import FeedError, create_feed
    from scheduler.settings import load_settings

    settings = load_settings()
    sessions = _sessions(settings)
    scope, subject = ("patient", args.patient) if args.patient is not None else ("navigator", args.navigator)
    try:
        feed = create_feed(sessions, scope, subject, settings.base_url)
    except FeedError as exc:
        raise StoreError(str(exc)) from None
    with sessions.begin() as session:
        audit.record(
            session,
            audit.Actor(None, CLI_ACTOR),
            "feed_create",
            args.patient,
            detail=feed.id if args.patient else f"{feed.id} navigator {args.navigator}",
        )
    print(json.dumps({"id": feed.id, "url": feed.url}))
    return 0


def cmd_feed_revoke(args: argparse.Namespace) -> int:
    from scheduler import audit
    from scheduler.feeds import FeedError, revoke_feed
    from scheduler.settings import load_settings

    sessions = _sessions(load_settings())
    try:
        patient_id = revoke_feed(sessions, args.id)
    except FeedError as exc:
        raise StoreError(str(exc)) from None
    with sessions.begin() as session:
        audit.record(session, audit.Actor(None, CLI_ACTOR), "feed_revoke", patient_id, detail=args.id)
    print(json.dumps({"id": args.id, "revoked": True}))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """The audit trail as JSON Lines, oldest first (``--patient`` for one patient's)."""
    from scheduler import audit
    from scheduler.settings import load_settings

    with _sessions(load_settings())() as session:
        lines = audit.trail(session, args.patient, limit=args.limit)
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = sub.add_parser("user", help="dashboard and API users")
    user_sub = user.add_subparsers(dest="user_command", required=True, parser_class=type(user))
    add = user_sub.add_parser("add", help="create a user; the password is read from standard input")
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", required=True, help="navigator, clinician or admin")
    add.add_argument("--navigator-id", help="for a navigator: the navigator_id of their patients")
    add.add_argument("--email", help="where escalations and the daily digest go")
    add.set_defaults(func=cmd_user_add)

    feed = sub.add_parser("feed", help="calendar subscriptions")
    feed_sub = feed.add_subparsers(dest="feed_command", required=True, parser_class=type(feed))
    create = feed_sub.add_parser("create", help="a new .ics subscription; prints its URL once")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", metavar="PATIENT_ID")
    who.add_argument("--navigator", metavar="NAVIGATOR_ID")
    create.set_defaults(func=cmd_feed_create)
    revoke = feed_sub.add_parser("revoke", help="revoke a subscription: its URL answers 404 from then on")
    revoke.add_argument("id", metavar="ID")
    revoke.set_defaults(func=cmd_feed_revoke)

    trail = sub.add_parser("audit", help="the audit trail (who read or wrote what, when) as JSON Lines")
    trail.add_argument("--patient", metavar="PATIENT_ID", help="only this patient's record")
    trail.add_argument("--limit", type=int, default=100_000, help="at most this many lines (100000)")
    trail.set_defaults(func=cmd_audit)

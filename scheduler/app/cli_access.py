"""``gistsched user …``, ``token …``, ``feed create/revoke`` and ``audit``: who may see what.

Every command that changes an account, a token or a feed writes its line to the audit trail (as
the operator ``cli``); secrets (a token, a one-time password) are printed once, never stored."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from scheduler.app.cli_pipeline import StoreError, _sessions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def cmd_user_add(args: argparse.Namespace) -> int:
    from scheduler.config.settings import load_settings
    from scheduler.staff.users import UserError, create_user

    password = sys.stdin.readline().rstrip("\r\n")
    settings = load_settings()
    try:
        created = create_user(
            _sessions(settings), args.username, args.role, password, args.navigator_id, args.email,
            token_days=args.expires_days,
        )  # fmt: skip
    except UserError as exc:
        raise StoreError(str(exc)) from None
    print(json.dumps({"username": created.username, "token": created.token, "token_id": created.token_id}))
    return 0


def _run(work: Callable[[sessionmaker[Session]], object]) -> object:
    from scheduler.config.settings import load_settings
    from scheduler.staff.users import UserError

    try:
        return work(_sessions(load_settings()))
    except UserError as exc:
        raise StoreError(str(exc)) from None


def cmd_user_list(args: argparse.Namespace) -> int:
    from scheduler.staff.users import list_users

    users = _run(list_users)
    assert isinstance(users, list)
    for user in users:
        print(json.dumps(user, ensure_ascii=False))
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    from scheduler.staff.users import set_active

    _run(lambda sessions: set_active(sessions, args.username, False))
    print(json.dumps({"username": args.username, "is_active": False}))
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    from scheduler.staff.users import set_active

    _run(lambda sessions: set_active(sessions, args.username, True))
    print(json.dumps({"username": args.username, "is_active": True}))
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from scheduler.staff.users import unlock

    _run(lambda sessions: unlock(sessions, args.username))
    print(json.dumps({"username": args.username, "unlocked": True}))
    return 0


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from scheduler.staff.users import reset_password

    password = _run(lambda sessions: reset_password(sessions, args.username))
    print(json.dumps({"username": args.username, "one_time_password": password, "must_change": True}))
    return 0


def _shown(token_id: int, token: str, expires_at: dt.datetime | None) -> str:
    return json.dumps(
        {"id": token_id, "token": token, "expires_at": expires_at.isoformat() if expires_at else None}
    )


def cmd_token_create(args: argparse.Namespace) -> int:
    from scheduler.staff.users import create_token

    created = _run(lambda sessions: create_token(sessions, args.username, args.expires_days))
    assert isinstance(created, tuple)
    print(_shown(*created))
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from scheduler.staff.users import list_tokens

    tokens = _run(lambda sessions: list_tokens(sessions, args.user))
    assert isinstance(tokens, list)
    for token in tokens:
        print(json.dumps(token))
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from scheduler.staff.users import revoke_token

    _run(lambda sessions: revoke_token(sessions, args.id))
    print(json.dumps({"id": args.id, "revoked": True}))
    return 0


def cmd_token_rotate(args: argparse.Namespace) -> int:
    from scheduler.staff.users import rotate_token

    created = _run(lambda sessions: rotate_token(sessions, args.id))
    assert isinstance(created, tuple)
    print(_shown(*created))
    return 0


CLI_ACTOR = "cli"  # the audit trail's name for the operator at the command line (scheduler.staff.users.CLI)


def cmd_feed_create(args: argparse.Namespace) -> int:
    from models.vocabulary import FeedScope
    from scheduler.config.settings import load_settings
    from scheduler.notifications.feeds import FeedError, create_feed
    from scheduler.staff import audit

    settings = load_settings()
    sessions = _sessions(settings)
    scope, subject = (
        (FeedScope.PATIENT, args.patient)
        if args.patient is not None
        else (FeedScope.NAVIGATOR, args.navigator)
    )
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
    from scheduler.config.settings import load_settings
    from scheduler.notifications.feeds import FeedError, revoke_feed
    from scheduler.staff import audit

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
    from scheduler.config.settings import load_settings
    from scheduler.staff import audit

    with _sessions(load_settings())() as session:
        lines = audit.trail(session, args.patient, limit=args.limit)
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _add_user_commands(sub)
    _add_token_commands(sub)
    _add_feed_commands(sub)
    trail = sub.add_parser("audit", help="the audit trail (who read or wrote what, when) as JSON Lines")
    trail.add_argument("--patient", metavar="PATIENT_ID", help="only this patient's record")
    trail.add_argument("--limit", type=int, default=100_000, help="at most this many lines (100000)")
    trail.set_defaults(func=cmd_audit)


def _add_user_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = sub.add_parser("user", help="dashboard and API users")
    user_sub = user.add_subparsers(dest="user_command", required=True, parser_class=type(user))
    add = user_sub.add_parser("add", help="create a user; the password is read from standard input")
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", required=True, help="navigator, clinician, admin or integration")
    add.add_argument("--navigator-id", help="for a navigator: the navigator_id of their patients")
    add.add_argument("--email", help="where escalations and the daily digest go")
    add.add_argument("--expires-days", type=int, metavar="N", help="the first API token expires after N days")
    add.set_defaults(func=cmd_user_add)
    user_sub.add_parser("list", help="every user, as JSON Lines (no secrets)").set_defaults(
        func=cmd_user_list
    )
    for name, func, text in (
        ("disable", cmd_user_disable, "end the user's sessions; their tokens stop answering"),
        ("enable", cmd_user_enable, "let a disabled user sign in again"),
        ("unlock", cmd_user_unlock, "forget the user's failed sign-ins"),
        ("reset-password", cmd_user_reset_password, "print a one-time password, to change at next sign-in"),
    ):
        command = user_sub.add_parser(name, help=text)
        command.add_argument("username", metavar="NAME")
        command.set_defaults(func=func)
    user_token = user_sub.add_parser("token", help="API tokens of a user")
    user_token_sub = user_token.add_subparsers(
        dest="user_token_command", required=True, parser_class=type(user)
    )
    token_create = user_token_sub.add_parser("create", help="a new API token for NAME; printed once")
    token_create.add_argument("username", metavar="NAME")
    token_create.add_argument(
        "--expires-days", type=int, metavar="N", help="expires after N days (default: never)"
    )
    token_create.set_defaults(func=cmd_token_create)


def _add_token_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    token = sub.add_parser("token", help="API tokens: list, revoke, rotate (`user token create` makes one)")
    token_sub = token.add_subparsers(dest="token_command", required=True, parser_class=type(token))
    listing = token_sub.add_parser("list", help="every token's id, user, expiry and status (no secrets)")
    listing.add_argument("--user", metavar="NAME", help="only this user's tokens")
    listing.set_defaults(func=cmd_token_list)
    for name, func, text in (
        ("revoke", cmd_token_revoke, "the token stops answering at once"),
        ("rotate", cmd_token_rotate, "revoke the token and print its replacement (same validity period)"),
    ):
        command = token_sub.add_parser(name, help=text)
        command.add_argument("id", metavar="ID", type=int)
        command.set_defaults(func=func)


def _add_feed_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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

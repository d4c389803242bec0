"""Use cases of telling people: the outbox kept by processing, the clock's dispatch of due notices
and digests, sending one email exactly once, the navigators' digest, calendar feeds. The renderers
and the SMTP sender they use are the top-level :mod:`notifications` package."""

"""Telling people: calendar feeds and invitations (:mod:`notifications.ical`), emails
(:mod:`notifications.mail`, :mod:`notifications.smtp`) and the outbox that sends each exactly once."""

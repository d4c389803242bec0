"""The pure clinical core: events in, risk, stage, alerts and reminders out.

Nothing in this package performs I/O, reads the clock or the environment, or imports a framework
beyond pydantic (used only to validate the contract's events). The shells around it pass an
explicit ``as_of`` date and a rule profile.
"""

"""The published clinical tables as plain data, one module per topic.

Each rule carries the id used in the plan's alerts and reminders, a one-line rationale and its
citation, so a clinical lead can read and review the tables without reading the logic.
"""

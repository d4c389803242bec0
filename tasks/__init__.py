"""Celery shells: the app and its settings (``app``), thin tasks named ``area.action``
(``patients``, ``ops``), the embedded broker transport and the clock process (``clock``).

Nothing here decides anything clinical: tasks pass ids and call the use cases in ``scheduler``.
"""

"""Celery shells: the task names, configuration and publishing (``base``), the app with its tasks
registered (``app``), thin tasks named ``area.action`` (``patients``, ``notifications``, ``ops``),
the embedded broker transport (``embedded``) and the clock process (``clock``).

Nothing here decides anything clinical: tasks pass ids and call the use cases in ``scheduler``.
"""

"""The entry points: the ``gistsched`` command, the demo and the process supervisor."""

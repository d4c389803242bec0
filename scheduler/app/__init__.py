"""The composition root: the ``gistsched`` command, the demo, the process supervisor and the wiring
they share. The only package that imports :mod:`tasks` and :mod:`web`."""

"""Helpers shared by the test modules: no test module imports another (or a conftest); what two of
them need lives here.

* :mod:`tests.support.guard` — the service-availability guard (skip, or fail under ``CI=true``);
* :mod:`tests.support.staff` — the pinned clinic day, the users and their tokens;
* :mod:`tests.support.fixtures` — the real services (PostgreSQL, redis-server, worker processes)
  as pytest fixtures, loaded for the whole tree by ``tests/conftest.py``;
* :mod:`tests.support.stores` — a database of its own with the example cohort planned;
* :mod:`tests.support.passwords` — password hashes as older versions wrote them;
* :mod:`tests.support.web` — the dashboard from a test client: settings, signing in, the CSRF
  token, audit lines, the markup checks;
* :mod:`tests.support.mail` — the email tests' words, kinds, envelope and bodies;
* :mod:`tests.support.browser` — the browser tests' running stack, browser and phone-width checks;
* :mod:`tests.support.common`, :mod:`tests.support.services`, :mod:`tests.support.cohort`,
  :mod:`tests.support.smtp_server` — commands, processes, the stored cohort, a real SMTP server.
"""

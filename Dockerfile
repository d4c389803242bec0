# gist-scheduler: one image for every role. docker-compose.yml runs it as `db upgrade` (migrate),
# `serve` (web), `worker` and `clock`; `docker run IMAGE --help` lists the other commands.
#
#   docker build -t gist-scheduler .
#
# Nothing secret is baked in: every setting (GIST_*, see .env.example and docs/deployment.md) comes
# from the environment when a container starts. The project is installed without its dev extras.

# ---- build: a virtual environment holding the project and its runtime dependencies -------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/gist

WORKDIR /src
# pyproject.toml names README.md as the long description; .dockerignore keeps the rest out.
COPY pyproject.toml README.md ./
COPY scheduler ./scheduler
COPY models ./models
COPY tasks ./tasks
COPY notifications ./notifications
COPY web ./web
RUN /opt/gist/bin/pip install .

# ---- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim

# GIST_DATA_DIR: `db upgrade` creates it; nothing lives there in production (PostgreSQL, Redis and
# SMTP are servers), but it must be writable by the unprivileged user.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/gist/bin:$PATH \
    GIST_DATA_DIR=/var/lib/gist

RUN groupadd --system --gid 10001 gist \
    && useradd --system --uid 10001 --gid gist --home-dir /var/lib/gist --create-home \
       --shell /usr/sbin/nologin gist

COPY --from=build /opt/gist /opt/gist
# The compose healthchecks (stdlib urllib for /healthz; a Celery ping for workers).
COPY deploy/healthcheck.py /opt/gist/healthcheck.py

WORKDIR /var/lib/gist
USER 10001:10001

EXPOSE 8000
ENTRYPOINT ["gistsched"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

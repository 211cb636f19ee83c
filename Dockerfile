# One image for the web server, the workers and the migrations (see docker-compose.yml):
#   docker build -t oms .
#   docker run --rm oms oms --help
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- builder: OMS and its dependencies installed into a virtualenv -------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/oms/venv/bin:$PATH
RUN python -m venv /opt/oms/venv \
 && pip install --upgrade pip
WORKDIR /src

# The dependencies first, read from pyproject.toml alone: this layer is reused until they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# Then OMS itself, as a regular (non-editable) install: code, templates, static files, .po catalogs
# and migrations all land in the venv's site-packages.
COPY . .
RUN pip install --no-deps .

# Compile the translation catalogs (.po -> .mo) now, into site-packages: at run time the code is
# read-only for the `oms` user. Run from / so the installed package is imported, not /src; the
# data dir points at a scratch folder so nothing from the build ends up in the image's state.
RUN cd / \
 && if python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('server.core.i18n') is None)"; then \
        OMS_DATA_DIR=/tmp/oms-build python -m server.core.i18n \
        && OMS_DATA_DIR=/tmp/oms-build python -c "from server.core import i18n; fn = getattr(i18n, 'compile_catalogs', None); print('catalogs compiled:', fn() if fn else 'nothing to compile')"; \
    else \
        echo "server.core.i18n is not part of this build: no catalogs to compile"; \
    fi \
 && rm -rf /tmp/oms-build

# -- runtime: the venv on a clean slim image, run as the unprivileged user `oms` ------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/oms/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMS_ENV=production \
    OMS_PORT=8000 \
    OMS_DATA_DIR=/var/lib/oms
RUN groupadd --system --gid 10001 oms \
 && useradd --system --uid 10001 --gid oms --home-dir /var/lib/oms --shell /usr/sbin/nologin oms \
 && mkdir -p /var/lib/oms \
 && chown oms:oms /var/lib/oms
COPY --from=builder /opt/oms/venv /opt/oms/venv
WORKDIR /var/lib/oms
USER oms

EXPOSE 8000
# Liveness of the web process (slim images have no curl). The worker and migrate containers
# disable this check in docker-compose.yml; the web service there checks /readyz instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ.get('OMS_PORT', '8000') + '/healthz', timeout=4)"]
CMD ["oms", "serve", "--host", "0.0.0.0"]

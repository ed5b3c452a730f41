# The image every service in the chart runs (helm/payment-platform, values `image.*`).
# One image, six services: the Deployment's args pick the app, e.g.
#   opentelemetry-instrument gunicorn -c apps/common/gunicorn_conf.py 'apps.gateway.app:create_app()'
# Build: docker build -t <registry>/payment-platform:<tag> .   (not built in this repository's CI:
# the build machine has no container runtime; see docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The services' dependency set only (pyproject's [project] dependencies; the tooling and the tests
# are extras the image never installs), in a layer that survives code changes. Then the code: the
# services and the catalog package, which read observability/catalog.yaml at start-up, and the
# migration SQL under apps/*/migrations. They run from /app (PYTHONPATH).
COPY pyproject.toml ./
RUN python -c "import tomllib; print(chr(10).join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY apps ./apps
COPY catalog ./catalog
COPY observability/catalog.yaml ./observability/catalog.yaml
# The project's entry points, without installing anything else: the code stays where it is (an
# editable install), and the OpenTelemetry SDK finds pyproject's meter configurator `disabled`
# (OTEL_PYTHON_METER_CONFIGURATOR, set by the chart).
RUN pip install --no-deps -e .

# An unprivileged user with a fixed uid, matching the chart's runAsUser; the chart mounts /tmp and
# PROMETHEUS_MULTIPROC_DIR as emptyDirs because the root filesystem is read-only.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001

ENV BIND=0.0.0.0:8080 \
    PYTHONPATH=/app \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc
EXPOSE 8080

# The chart sets args per service; this default runs the gateway.
CMD ["opentelemetry-instrument", "gunicorn", "-c", "apps/common/gunicorn_conf.py", "apps.gateway.app:create_app()"]

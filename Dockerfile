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

# Dependencies first (their layer survives code changes), then the code. The services read
# observability/catalog.yaml at start-up (metrics are declared there) and the migration SQL under
# apps/*/migrations, so the source tree stays in /app next to the installed package.
COPY pyproject.toml README.md ./
COPY apps ./apps
COPY observability ./observability
RUN pip install .

# An unprivileged user with a fixed uid, matching the chart's runAsUser; the chart mounts /tmp and
# PROMETHEUS_MULTIPROC_DIR as emptyDirs because the root filesystem is read-only.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001

ENV BIND=0.0.0.0:8080 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc
EXPOSE 8080

# The chart sets args per service; this default runs the gateway.
CMD ["opentelemetry-instrument", "gunicorn", "-c", "apps/common/gunicorn_conf.py", "apps.gateway.app:create_app()"]

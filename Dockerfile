# accounts-service: gunicorn on a slim Python, as a non-root user. The same image runs the sync
# workers (`accounts-service worker`, deploy/k8s/worker.yaml) and the provider sandbox.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/accounts-metrics

WORKDIR /srv
COPY pyproject.toml setup.cfg README.md LICENSE ./
COPY app ./app
# Installed, not run from the sources: the package holds the gunicorn settings and the demo seed.
RUN pip install --no-cache-dir . \
    && rm -r /srv/app \
    && useradd --system --uid 10001 --no-create-home accounts

USER accounts
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"]
CMD ["accounts-service", "run"]

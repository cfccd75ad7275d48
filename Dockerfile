# Labbook's API server. Static checks: tests/test_dockerfile.py (these machines have no container engine).
#   docker build -t labbook .
#   docker run -p 8000:8000 -v labbook-data:/data -e LABBOOK_API_TOKENS=... labbook
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LABBOOK_DATA_DIR=/data

# A fixed numeric UID, so `runAsNonRoot` in Kubernetes can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 labbook \
 && useradd --system --uid 10001 --gid labbook --no-create-home --home-dir /data --shell /usr/sbin/nologin labbook \
 && mkdir /data \
 && chown labbook:labbook /data

WORKDIR /src
# Only what the wheel is built from: pyproject's readme, the package (its Alembic revisions ship inside it) and the
# pinned versions. A non-editable install, so /src is not needed at runtime.
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY prompts ./prompts
RUN pip install -c constraints.txt . \
 && rm -rf /src

WORKDIR /data
USER 10001:10001
# The SQLite file (and later the Chroma folder) live here. A new named volume takes the image's ownership;
# a bind-mounted host folder must be writable by UID 10001.
VOLUME ["/data"]
EXPOSE 8000

# urlopen raises on a refused connection or any non-2xx answer, so the exit code is the verdict.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# `serve` migrates the database on start (LABBOOK_AUTO_MIGRATE, on by default).
CMD ["labbook", "serve", "--host", "0.0.0.0", "--port", "8000"]

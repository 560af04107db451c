# The xbmon image: the `xbmon` CLI (worker, reference load, ...) on Python 3.11.
# Built by docker-compose.yml (`docker compose build`); the default command runs one worker.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/xbmon/src

# Dependencies first, from pyproject.toml alone, so editing the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY schemas/ schemas/
COPY pipeline/ pipeline/
COPY agents/ agents/
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/xbmon --create-home xbmon

# Faust keeps its state directory (<app_id>-data) in the working directory: it must be writable.
USER xbmon
WORKDIR /var/lib/xbmon
ENV XBMON_DATA_DIR=/var/lib/xbmon

EXPOSE 9464
ENTRYPOINT ["xbmon"]
CMD ["worker"]

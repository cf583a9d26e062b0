# One image for every platform process; docker-compose.yml picks the command (api, worker, migrate, simulators).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The source stays in the working directory: `python -m ...` runs it from here, and db/migrate.py finds
# alembic.ini and migrations/ beside it.
WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

COPY . .
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --no-create-home prakerja
USER prakerja

EXPOSE 8000
# One API process unless PRAKERJA_API_WORKERS (or --workers) says more; docker-compose.yml runs two.
CMD ["python", "-m", "api", "--host", "0.0.0.0", "--port", "8000"]

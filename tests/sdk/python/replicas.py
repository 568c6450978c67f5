"""Helpers for the multi-replica tests on PostgreSQL (test_replicas.py, test_pg_outage.py):
several `ecsd serve --database-url` processes on ONE database, one master key for all.

They run only with ECSD_SDK_DATABASE_URL (a PostgreSQL server's URL; .ci/run sets it for the
second pytest pass): each test creates a fresh database of its own there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest

import harness
from harness import server_env, start_server

needs_postgres = pytest.mark.skipif(
    not harness.on_postgres(),
    reason="replicas share one PostgreSQL database: set ECSD_SDK_DATABASE_URL "
           "(scripts/pg-test-cluster.sh start prints one; .ci/run sets it)")


def create_database(server_url: str, prefix: str = "rep") -> str:
    """A fresh database on the server at `server_url`; returns its URL."""
    name = prefix + "_" + hashlib.sha256(f"{os.getpid()}:{time.time_ns()}".encode()).hexdigest()[:20]
    p = subprocess.run(["psql", server_url, "-qc", f"CREATE DATABASE {name}"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"cannot create database {name}: {p.stderr}")
    return server_url.rsplit("/", 1)[0] + "/" + name


def replica_env(master_key: str, **extra: str) -> dict:
    env = server_env()
    env["ECSD_MASTER_KEY"] = master_key
    env.update(extra)
    return env


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def start_replica(base: Path, index: int, database_url: str, env: dict):
    """`ecsd serve --database-url database_url --clock virtual` with a data dir of its own."""
    data = base / f"replica{index}"
    data.mkdir(parents=True, exist_ok=True)
    # harness.start_server gives each data dir its own database; these replicas share one.
    harness._databases[str(data.resolve())] = database_url
    return start_server(data, virtual_clock=True, env=env)

"""The throwaway PostgreSQL cluster (deploy/local/postgres.py) and Synapse on PostgreSQL:
the cluster keeps its data through a stop and through a crash, lets in every client it
hands out addresses for, and a room deleted with the Admin API leaves no trace of its
text in any table of Synapse's PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg
import psycopg2
import pytest

from deploy.local.postgres import (
    LocalPostgres,
    LocalPostgresError,
    asyncpg_args,
    find_bindir,
    machine_postgres,
)
from tests.db_scan import pg_tables_containing
from tests.synapse_fixture import SynapseFixture


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """Outside pytest's root-only directory, so the `postgres` user can enter it as root."""
    path = Path(tempfile.mkdtemp(prefix="ungechat-pg-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def cluster(state_dir: Path) -> AsyncIterator[LocalPostgres]:
    pg = LocalPostgres(state_dir)
    await pg.start()
    yield pg
    await pg.stop()


async def query(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def test_the_newest_installed_postgresql_is_used(tmp_path: Path) -> None:
    for version, programs in [
        ("9.6", ["initdb", "postgres"]),
        ("13", ["initdb", "postgres"]),
        ("15", ["initdb", "postgres"]),
        ("16", ["initdb"]),  # a client-only install has no server to run
    ]:
        (tmp_path / version / "bin").mkdir(parents=True)
        for program in programs:
            (tmp_path / version / "bin" / program).touch()
    assert find_bindir(tmp_path) == tmp_path / "15" / "bin"
    # A cluster made by an older version is run by that version, while it is installed.
    assert find_bindir(tmp_path, version="13") == tmp_path / "13" / "bin"


def test_missing_postgresql_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(LocalPostgresError, match=r"apt-get install postgresql"):
        find_bindir(tmp_path)


async def test_data_survives_a_stop_and_a_crash(cluster: LocalPostgres) -> None:
    url = cluster.admin_url
    await query(url, "CREATE TABLE notes (body text)")
    await query(url, "INSERT INTO notes VALUES ('før stop')")
    port = cluster.port

    await cluster.stop()
    assert not await machine_postgres(url)
    await cluster.start()
    assert cluster.port == port  # the addresses handed out still work
    await query(url, "INSERT INTO notes VALUES ('før nedbrud')")

    await cluster.kill()
    assert not await machine_postgres(url)
    await cluster.start()
    assert "automatic recovery in progress" in cluster.log_path.read_text()  # a real crash
    rows = await query(url, "SELECT body FROM notes ORDER BY body")
    assert [r["body"] for r in rows] == ["før nedbrud", "før stop"]


async def test_it_lets_in_every_client_it_gives_an_address_for(cluster: LocalPostgres) -> None:
    assert await machine_postgres(cluster.admin_url)
    # Over its socket, as the cluster's superuser.
    assert cluster.socket_dir is not None
    conn = await asyncpg.connect(host=str(cluster.socket_dir), port=cluster.port, user="postgres")
    assert await conn.fetchval("SELECT current_user") == "postgres"
    await conn.close()

    # A database made for Synapse is what Synapse insists on, and making it twice is fine.
    assert await cluster.create_database("synapse")
    assert not await cluster.create_database("synapse")
    [row] = await query(
        cluster.admin_url,
        "SELECT pg_encoding_to_char(encoding) AS enc, datcollate, datctype "
        "FROM pg_database WHERE datname = 'synapse'",
    )
    assert (row["enc"], row["datcollate"], row["datctype"]) == ("UTF8", "C", "C")

    # Synapse's driver with the arguments meant for it.
    def with_psycopg2() -> str:
        with psycopg2.connect(**cluster.synapse_args("synapse")) as db, db.cursor() as cur:
            cur.execute("SELECT current_database()")
            return cur.fetchone()[0]

    assert await asyncio.to_thread(with_psycopg2) == "synapse"


async def test_it_listens_on_loopback_and_trusts_only_local_connections(
    cluster: LocalPostgres,
) -> None:
    [listen] = await query(cluster.admin_url, "SHOW listen_addresses")
    assert listen[0] == "127.0.0.1"
    rules = await query(cluster.admin_url, "SELECT type, address FROM pg_hba_file_rules")
    assert {(r["type"], r["address"]) for r in rules} == {
        ("local", None),
        ("host", "127.0.0.1"),
        ("host", "::1"),
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to `postgres`")
async def test_as_root_a_state_dir_postgres_cannot_enter_is_refused_clearly(
    tmp_path: Path,
) -> None:
    # pytest's own directory is root's alone.
    with pytest.raises(LocalPostgresError, match=r"cannot enter .* under /tmp"):
        await LocalPostgres(tmp_path / "pg").start()


@pytest.mark.synapse
async def test_a_purged_room_leaves_no_text_in_synapse_postgres(
    synapse_on_postgres: SynapseFixture, http: aiohttp.ClientSession
) -> None:
    hs = synapse_on_postgres
    assert hs.postgres_url is not None
    api = f"{hs.url}/_matrix/client/v3"
    _, _, token = await hs.new_user("ung")
    auth = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{api}/createRoom", json={}, headers=auth) as r:
        assert r.status == 200
        room_id = (await r.json())["room_id"]
    canary = f"kanariefugl-{secrets.token_hex(8)}"
    message = {"msgtype": "m.text", "body": f"jeg har det svært {canary}"}
    send = f"{api}/rooms/{quote(room_id)}/send/m.room.message/t1"
    async with http.put(send, json=message, headers=auth) as r:
        assert r.status == 200

    assert "event_json.json" in await pg_tables_containing(hs.postgres_url, canary)

    status, body = await hs.admin(
        "DELETE", f"/_synapse/admin/v2/rooms/{quote(room_id)}", {"purge": True}
    )
    assert status == 200, body
    delete_status = f"/_synapse/admin/v2/rooms/delete_status/{body['delete_id']}"
    async with asyncio.timeout(60):
        while True:
            status, body = await hs.admin("GET", delete_status)
            assert status == 200 and body["status"] != "failed", body
            if body["status"] == "complete":
                break
            await asyncio.sleep(0.2)

    assert await pg_tables_containing(hs.postgres_url, canary) == []

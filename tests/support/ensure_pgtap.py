"""Make pgTAP available on the test target, or fail loudly: it is never silently skipped.

On Debian as root it installs `postgresql-<major>-pgtap`; for the embedded server it copies
pgTAP's (pure SQL) extension files into the embedded installation.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.support.target import server_url


async def _probe(url: str) -> tuple[int, bool]:
    conn = await asyncpg.connect(url)
    try:
        major = int(await conn.fetchval("select current_setting('server_version_num')::int / 10000"))
        available = bool(
            await conn.fetchval("select exists (select from pg_available_extensions where name = 'pgtap')")
        )
        return major, available
    finally:
        await conn.close()


def _apt_install(package: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        sys.exit(f"pgTAP is missing: install {package} (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, check=True, capture_output=True)


def _copy_into_embedded() -> None:
    from api.pg.embedded import binaries

    sources = sorted(glob.glob("/usr/share/postgresql/*/extension/pgtap.control"))
    if not sources:
        _apt_install("pgtap")
        sources = sorted(glob.glob("/usr/share/postgresql/*/extension/pgtap.control"))
    source_dir = Path(sources[-1]).parent
    target_dir = binaries().parent / "share" / "extension"
    for path in source_dir.glob("pgtap*"):
        shutil.copy(path, target_dir / path.name)


def main() -> None:
    url = server_url()
    major, available = asyncio.run(_probe(url))
    if not available:
        if "host=/" in url:
            _copy_into_embedded()
        else:
            _apt_install(f"postgresql-{major}-pgtap")
        major, available = asyncio.run(_probe(url))
    if not available:
        sys.exit(f"pgTAP is still not available on the PostgreSQL {major} test server")
    print(f"pgTAP available on PostgreSQL {major}")


if __name__ == "__main__":
    main()

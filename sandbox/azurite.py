"""Start and stop Azurite (the Azure Storage emulator, from npm) on loopback for tests and the demo.

Azurite is pinned in package.json (3.35.0 runs on Node 20). Ports are picked free at start so
several runs can share a machine. The account is Azurite's documented development account.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key, published in Microsoft's docs; not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Azurite exited early with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"Azurite did not listen on {HOST}:{port} in time")


def connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://{HOST}:{blob_port}/{ACCOUNT};"
        f"QueueEndpoint=http://{HOST}:{queue_port}/{ACCOUNT};"
        f"TableEndpoint=http://{HOST}:{table_port}/{ACCOUNT};"
    )


class Azurite:
    """A running Azurite process; use as a context manager. `connection_string` reaches it."""

    def __init__(self, *, binary: Path | None = None, startup_timeout: float = 30.0) -> None:
        self._binary = binary or ROOT / "node_modules" / ".bin" / "azurite"
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None
        self._log: BinaryIO | None = None
        self.connection_string = ""

    def start(self) -> Azurite:
        if not self._binary.exists():
            node = shutil.which("azurite")
            if node is None:
                raise FileNotFoundError(
                    f"{self._binary} is missing: run `npm ci` (make test does) to install Azurite"
                )
            self._binary = Path(node)
        ports = _free_port(), _free_port(), _free_port()
        # In-memory mode still writes a debug/extent folder in the cwd: keep it in a temp dir.
        self._workdir = tempfile.mkdtemp(prefix="azurite-")
        cmd = [
            str(self._binary),
            "--blobHost", HOST, "--blobPort", str(ports[0]),
            "--queueHost", HOST, "--queuePort", str(ports[1]),
            "--tableHost", HOST, "--tablePort", str(ports[2]),
            "--inMemoryPersistence", "--silent", "--loose", "--skipApiVersionCheck",
            "--disableTelemetry",
        ]  # fmt: skip
        self._log = open(os.path.join(self._workdir, "stderr.log"), "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: nobody reads a pipe during tests, and a full one blocks Azurite.
            stderr=self._log,
            cwd=self._workdir,
            env={**os.environ, "AZURITE_ACCOUNTS": ""},
        )
        deadline = time.monotonic() + self._timeout
        try:
            for port in ports:
                _wait_listening(port, self._proc, deadline)
        except Exception as exc:
            log = Path(self._workdir, "stderr.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"Azurite failed to start: {exc}\n{log}") from exc
        self.connection_string = connection_string(*ports)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def lapse_leases(connection_string: str, container: str) -> int:
    """End every blob lease in `container` now, as if each had lapsed: what a lease held by a
    process that died looks like once its time is up (Azurite's leases run on the wall clock,
    15 to 60 seconds, which a test on a frozen clock does not wait for). Returns how many."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.storage.blob import BlobLeaseClient, BlobServiceClient

    client = BlobServiceClient.from_connection_string(connection_string).get_container_client(
        container
    )
    ended = 0
    try:
        blobs = list(client.list_blobs())
    except ResourceNotFoundError:
        return 0
    for blob in blobs:
        if blob.lease.state == "leased":
            try:
                BlobLeaseClient(client.get_blob_client(blob.name)).break_lease(lease_break_period=0)
                ended += 1
            except HttpResponseError:
                pass  # released meanwhile
    return ended

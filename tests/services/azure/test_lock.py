"""The blob-lease lock beyond its contract: renewal while held, a lost lease is reported, the
lease lengths Azure accepts."""

from __future__ import annotations

import threading

import pytest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from services.azure.lock import BlobLeaseLock
from services.domain.errors import LockLost

pytestmark = pytest.mark.azurite


def make_lock(conn: str, container: str, **kwargs) -> BlobLeaseLock:
    service = BlobServiceClient.from_connection_string(conn)
    return BlobLeaseLock(service.get_container_client(container), **kwargs)


def lease_state(conn: str, container: str, blob: str) -> str:
    service = BlobServiceClient.from_connection_string(conn)
    props = service.get_blob_client(container, blob).get_blob_properties()
    return str(props.lease.state)


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Wait for the lease's own thread (it runs against Azurite's clock, not an injected one)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        done.wait(0.02)
    return condition()


def test_the_lease_is_renewed_while_held(azurite_connection_string, unique_name) -> None:
    lock = make_lock(azurite_connection_string, unique_name, renew_seconds=0.1)
    held = lock.try_hold("contoso")
    assert held is not None
    with held as lease:
        assert wait_for(lambda: lease.renewals >= 3)
        assert lock.try_hold("contoso") is None
        lease.check()
    assert lease_state(azurite_connection_string, unique_name, "contoso.lock") == "available"


def test_a_lease_lost_while_held_is_reported(azurite_connection_string, unique_name) -> None:
    lock = make_lock(azurite_connection_string, unique_name, renew_seconds=0.05)
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    held = lock.try_hold("contoso")
    assert held is not None
    with held as lease:
        # Someone breaks the lease (an operator in the portal): renewal fails from then on.
        BlobLeaseClient(service.get_blob_client(unique_name, "contoso.lock")).break_lease(0)
        assert wait_for(lambda: lease.lost is not None)
        with pytest.raises(LockLost, match="lost its write lock"):
            lease.check()


@pytest.mark.parametrize("seconds", [14, 61])
def test_lease_length_outside_what_azure_accepts_is_refused(seconds: int) -> None:
    service = BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")
    with pytest.raises(ValueError, match=r"15\.\.60"):
        BlobLeaseLock(service.get_container_client("locks"), lease_seconds=seconds)

"""The per-registry blob-lease lock against Azurite."""

from __future__ import annotations

import threading
import time

import pytest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from services.domain.errors import LockLost, RegistryBusy
from services.locks import BlobLeaseLock

pytestmark = pytest.mark.azurite


def make_lock(connection_string: str, container: str, **kwargs) -> BlobLeaseLock:
    kwargs.setdefault("lease_seconds", 15)
    kwargs.setdefault("poll_seconds", 0.02)
    return BlobLeaseLock.from_connection_string(connection_string, container, **kwargs)


def lease_state(connection_string: str, container: str, blob: str) -> str:
    service = BlobServiceClient.from_connection_string(connection_string)
    props = service.get_blob_client(container, blob).get_blob_properties()
    return str(props.lease.state)


def test_a_second_holder_waits_and_gets_the_lock_when_the_first_releases(
    azurite_connection_string, unique_name
):
    waiting = threading.Event()

    def poll_pause(seconds: float) -> None:
        waiting.set()  # the second holder found the lease taken and is waiting for it
        time.sleep(seconds)

    first = make_lock(azurite_connection_string, unique_name)
    second = make_lock(
        azurite_connection_string, unique_name, wait_seconds=30, poll_seconds=0.05, sleep=poll_pause
    )
    events: list[str] = []
    held = threading.Event()

    def hold_then_release() -> None:
        with first.hold("contoso"):
            events.append("first acquired")
            held.set()
            assert waiting.wait(10)
            events.append("first releasing")

    thread = threading.Thread(target=hold_then_release)
    thread.start()
    held.wait(10)
    with second.hold("contoso"):
        events.append("second acquired")
    thread.join()

    assert events == ["first acquired", "first releasing", "second acquired"]


def test_waiting_past_the_bound_raises_registry_busy(azurite_connection_string, unique_name):
    slept: list[float] = []
    holder = make_lock(azurite_connection_string, unique_name)
    waiter = make_lock(
        azurite_connection_string,
        unique_name,
        wait_seconds=1.0,
        poll_seconds=0.25,
        sleep=slept.append,
    )

    with holder.hold("contoso"), pytest.raises(RegistryBusy) as caught, waiter.hold("contoso"):
        pytest.fail("the lock was held by someone else")

    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert caught.value.registry == "contoso"
    assert "try again" in caught.value.message


def test_locks_of_different_registries_are_independent(azurite_connection_string, unique_name):
    lock = make_lock(azurite_connection_string, unique_name, wait_seconds=0)

    with lock.hold("contoso"), lock.hold("fabrikam"):
        assert lease_state(azurite_connection_string, unique_name, "fabrikam.lock") == "leased"


def test_the_lease_is_renewed_while_held(azurite_connection_string, unique_name):
    lock = make_lock(azurite_connection_string, unique_name, renew_seconds=0.1)
    other = make_lock(azurite_connection_string, unique_name, wait_seconds=0)

    with lock.hold("contoso") as lease:
        # Renewal runs on the lease's own thread against Azurite's clock: wait for it to happen.
        deadline = time.monotonic() + 10
        while lease.renewals < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(RegistryBusy), other.hold("contoso"):
            pytest.fail("the lease lapsed although it was being renewed")
        lease.check()

    assert lease.renewals >= 3
    assert lease_state(azurite_connection_string, unique_name, "contoso.lock") == "available"


def test_the_lock_is_released_when_the_body_raises(azurite_connection_string, unique_name):
    lock = make_lock(azurite_connection_string, unique_name, wait_seconds=0)

    with pytest.raises(ValueError, match="boom"), lock.hold("contoso"):
        raise ValueError("boom")

    assert lease_state(azurite_connection_string, unique_name, "contoso.lock") == "available"
    with lock.hold("contoso"):
        pass


def test_a_lease_lost_while_held_is_reported(azurite_connection_string, unique_name):
    lock = make_lock(azurite_connection_string, unique_name, renew_seconds=0.05)
    service = BlobServiceClient.from_connection_string(azurite_connection_string)

    with lock.hold("contoso") as lease:
        # Someone breaks the lease (an operator in the portal): renewal fails from then on.
        BlobLeaseClient(service.get_blob_client(unique_name, "contoso.lock")).break_lease(0)
        deadline = time.monotonic() + 5
        while lease.lost is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(LockLost, match="lost its write lock"):
            lease.check()


@pytest.mark.parametrize("seconds", [14, 61])
def test_lease_length_outside_what_azure_accepts_is_refused(seconds):
    with pytest.raises(ValueError, match=r"15\.\.60"):
        BlobLeaseLock.from_connection_string(
            "UseDevelopmentStorage=true", "locks", lease_seconds=seconds
        )

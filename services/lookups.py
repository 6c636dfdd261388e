"""The address books a diagnosis reads: the organisation's known egress IPs and Azure's service
tags. The service-tag index is built on first use (it costs a few hundred milliseconds), so the
processes that never diagnose never pay for it. A `ServiceTagSource` (the stored daily document)
is asked on every use instead and decides itself when to look for a newer document."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol, runtime_checkable

from services.clock import Clock, SystemClock
from services.diagnosis.known_ips import KnownIps
from services.diagnosis.service_tags import ServiceTagIndex

logger = logging.getLogger(__name__)

#: Microsoft publishes the tags weekly; a copy older than this may miss Azure's newest ranges.
DEFAULT_MAX_AGE = timedelta(days=8)


@runtime_checkable
class ServiceTagSource(Protocol):
    def current(self) -> ServiceTagIndex | None:
        """The index to use now (cheap: the source caches and refreshes on its own)."""
        ...


class AddressBook:
    """`AddressLookups` over a known-IP mapping and a lazily loaded service-tag index.

    `service_tags_problem` says why the index in hand is not to be trusted (none loaded, older
    than `max_age`): the diagnosis then fails closed (invariant 13). An index whose age nothing
    says (a file without a date) is trusted: someone chose it.
    """

    def __init__(
        self,
        known_ips: Mapping[str, str] | KnownIps | None = None,
        service_tags: (
            ServiceTagSource | Callable[[], ServiceTagIndex | None] | ServiceTagIndex | None
        ) = None,
        *,
        clock: Clock | None = None,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self._clock = clock or SystemClock()
        self._max_age = max_age
        self._known = known_ips if isinstance(known_ips, KnownIps) else KnownIps(known_ips)
        self._source: ServiceTagSource | None = None
        self._loader: Callable[[], ServiceTagIndex | None]
        if isinstance(service_tags, ServiceTagSource):
            self._source, self._loader = service_tags, lambda: None
        elif isinstance(service_tags, ServiceTagIndex) or service_tags is None:
            fixed = service_tags
            self._loader = lambda: fixed
        else:
            self._loader = service_tags
        self._tags: ServiceTagIndex | None = None
        self._loaded = False
        self._mutex = threading.Lock()

    @property
    def known_ips(self) -> KnownIps:
        return self._known

    @property
    def service_tags_problem(self) -> str | None:
        """Why the service tags in hand are not to be trusted now; None when they are."""
        index = self.service_tags
        if index is None:
            return "the bot has no copy of Azure's service tags yet"
        if index.published is None:
            return None
        age = self._clock.now() - index.published
        if age <= self._max_age:
            return None
        days = age.days
        when = f"{days} days" if days >= 2 else f"{int(age.total_seconds() // 3600)} hours"
        return f"its copy of Azure's service tags is {when} old"

    @property
    def service_tags(self) -> ServiceTagIndex | None:
        if self._source is not None:
            try:
                return self._source.current()
            except Exception:
                logger.exception("service tags could not be loaded; diagnosing without them")
                return None
        with self._mutex:
            if not self._loaded:
                try:
                    self._tags = self._loader()
                except Exception:
                    # Without tags a diagnosis still works; it just cannot name Azure's ranges.
                    logger.exception("service tags could not be loaded; diagnosing without them")
                    self._tags = None
                self._loaded = True
            return self._tags

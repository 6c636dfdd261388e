"""The address books a diagnosis reads: the organisation's known egress IPs and Azure's service
tags. The service-tag index is built on first use (it costs a few hundred milliseconds), so the
processes that never diagnose never pay for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from services.diagnosis.known_ips import KnownIps
from services.diagnosis.service_tags import ServiceTagIndex

logger = logging.getLogger(__name__)


class AddressBook:
    """`AddressLookups` over a known-IP mapping and a lazily loaded service-tag index."""

    def __init__(
        self,
        known_ips: Mapping[str, str] | KnownIps | None = None,
        service_tags: Callable[[], ServiceTagIndex | None] | ServiceTagIndex | None = None,
    ) -> None:
        self._known = known_ips if isinstance(known_ips, KnownIps) else KnownIps(known_ips)
        self._loader = service_tags if callable(service_tags) else (lambda: service_tags)
        self._tags: ServiceTagIndex | None = None
        self._loaded = False
        self._mutex = threading.Lock()

    @property
    def known_ips(self) -> KnownIps:
        return self._known

    @property
    def service_tags(self) -> ServiceTagIndex | None:
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

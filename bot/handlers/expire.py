"""`expire`: a grant's deadline has come; its rule goes now (see `services.flows.expiry`)."""

from __future__ import annotations

from services.domain.jobs import ExpireJob
from services.flows.book import BookPorts
from services.flows.expiry import expire_due


def handle(job: ExpireJob, *, ports: BookPorts) -> None:
    expire_due(ports, job)

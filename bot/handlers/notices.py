"""`grant_notice` and `registry_notice`: tell people what changed (see `bot.notices`)."""

from __future__ import annotations

import logging

from bot.notices import Notices
from services.domain.errors import DomainError
from services.domain.jobs import GrantNotice, RegistryNotice

logger = logging.getLogger(__name__)


def grant_notice(job: GrantNotice, *, notices: Notices) -> None:
    """A notice about a grant that no longer exists is dropped, not retried."""
    try:
        notices.handle(job)
    except DomainError as exc:
        logger.warning("notice %s dropped: %s", job.key, exc.message)


def registry_notice(job: RegistryNotice, *, notices: Notices) -> None:
    notices.registry_changed(job)

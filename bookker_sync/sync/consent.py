"""Binding a customer's directory to a Bookker tenant through admin consent.

``consent_link`` gives a caller of the API (Bookker's backend, an operator) the URL to
send the customer's admin: Entra's adminconsent endpoint, with a ``state`` that names
the Bookker tenant, expires after ``STATE_LIFETIME`` and is signed with APP_SECRET_KEY
(domain/signing.py). ``complete_consent`` is what the redirect back does: check the
state, then bind the directory Entra names to that tenant (sync/ownership.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bookker_sync.domain.models import Tenant
from bookker_sync.domain.signing import (
    InvalidStateError,
    is_guid,
    sign_consent_state,
    verify_consent_state,
)
from bookker_sync.identity.consent import admin_consent_url
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync.errors import AppError, BadRequestError, ConflictAppError
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.ownership import bind_directory
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
STATE_LIFETIME = timedelta(hours=24)  # the link may sit in an admin's mailbox for a day


class ConsentNotGivenError(AppError):
    """The admin declined (or Entra reported another error)."""


async def consent_link(services: Services, tenant_id: str) -> str:
    tenant = await get_tenant(services, tenant_id)
    settings = services.settings
    expires = services.clock.now() + STATE_LIFETIME
    state = sign_consent_state(settings.security.key, tenant.id, expires)
    return admin_consent_url(
        settings.graph.authority, tenant.graph_tenant_id or None, settings.graph.client_id,
        settings.consent_redirect_url, state,
    )  # fmt: skip


async def complete_consent(
    services: Services, *, state: str, directory: str, error: str | None
) -> Tenant:
    """Check ``state``; on consent, bind ``directory`` to the tenant it names."""
    try:
        tenant_id = verify_consent_state(
            services.settings.security.key, state, services.clock.now()
        )
    except InvalidStateError as exc:
        raise BadRequestError(f"the consent link is not valid: {exc}") from exc
    if error:
        log.info("admin consent for tenant %s not given: %s", tenant_id, error[:100])
        raise ConsentNotGivenError(f"consent was not given ({error[:100]})")
    if not is_guid(directory):
        raise BadRequestError("the consent answer names no directory (tenant GUID)")
    directory = directory.lower()
    if not await services.graph.app_has_consent(directory):
        # The redirect came through a browser: its `tenant` is only a claim until Entra
        # confirms the app is in that directory (graph/consent_probe.py).
        raise BadRequestError(
            f"Entra does not confirm a consent of directory {directory} to this app"
        )
    await _refuse_directory_of_another_tenant(services, tenant_id, directory)
    tenant = await bind_directory(services, tenant_id, directory)
    log.info("admin consent: tenant %s bound to directory %s", tenant_id, tenant.graph_tenant_id)
    return tenant


async def _refuse_directory_of_another_tenant(
    services: Services, tenant_id: str, directory: str
) -> None:
    """A directory another Bookker tenant is bound to is shared only by an operator (the
    Tenants.Bind role, on the tenant PUT), never by a consent answer: a customer's admin
    holding a valid link can't attach someone else's consented directory to their own
    tenant. The message names the conflict, not the other tenant."""
    for other in await services.repos.tenants.list(TENANT_PARTITION):
        if other.id != tenant_id and other.graph_tenant_id.lower() == directory:
            raise ConflictAppError(
                f"directory {directory} is connected to another Bookker tenant already; "
                "sharing a directory between tenants is set up by Bookker, not by consent"
            )

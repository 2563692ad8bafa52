"""Timer functions: thin wrappers over sync/renewal and sync/reconcile_all."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed

bp = func.Blueprint()  # type: ignore[no-untyped-call]


def _input(timer: func.TimerRequest) -> dict[str, Any]:
    """Input given through POST /admin/functions/{name} (e.g. {"force": true})."""
    given = getattr(timer, "input", None)
    return given if isinstance(given, dict) else {}


@bp.function_name("renew_subscriptions")
@bp.timer_trigger(schedule="%RENEW_SCHEDULE%", arg_name="timer", run_on_startup=False)
@observed
async def renew_subscriptions_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.subscriptions.renewal import renew_due  # lazily: functions/deps.py

    await renew_due(services(), force=bool(_input(timer).get("force")))


@bp.function_name("reconcile_all")
@bp.timer_trigger(schedule="%RECONCILE_SCHEDULE%", arg_name="timer", run_on_startup=False)
@observed
async def reconcile_all_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.subscriptions.reconcile_timer import reconcile_all  # lazily

    await reconcile_all(services(), force=bool(_input(timer).get("force")))

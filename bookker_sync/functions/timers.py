"""Timer functions: thin wrappers over sync/renewal and sync/reconcile_all."""

from __future__ import annotations

from datetime import datetime, timedelta
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


def _period(timer: func.TimerRequest) -> timedelta | None:
    """The timer's own period: Next - Last of its schedule status (None when unknown,
    e.g. the first run, or a run through the admin endpoint)."""
    status = getattr(timer, "schedule_status", None)
    if not isinstance(status, dict):
        return None
    try:
        last, following = status.get("Last"), status.get("Next")
        if not last or not following:
            return None
        return datetime.fromisoformat(str(following)) - datetime.fromisoformat(str(last))
    except (TypeError, ValueError):
        return None


@bp.function_name("reconcile_all")
@bp.timer_trigger(schedule="%RECONCILE_SCHEDULE%", arg_name="timer", run_on_startup=False)
@observed
async def reconcile_all_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.subscriptions.reconcile_timer import reconcile_all  # lazily

    await reconcile_all(
        services(), force=bool(_input(timer).get("force")), timer_period=_period(timer)
    )

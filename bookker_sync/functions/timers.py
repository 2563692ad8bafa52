"""Timer functions: thin wrappers over sync/renewal and sync/reconcile_all.

They do what their schedule says and take no input from the timer argument: the real
host gives a timer no input (its admin endpoint just runs it). An operator's forced
run goes through queue ``lifecycle`` (sync/ops/run_now.py). ``reconcile_all`` reads
its schedule status (Last / Next, which the real host passes too) to know its period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("renew_subscriptions")
@bp.timer_trigger(schedule="%RENEW_SCHEDULE%", arg_name="timer", run_on_startup=False)
@observed
async def renew_subscriptions_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.subscriptions.renewal import renew_due  # lazily: functions/deps.py

    await renew_due(services())


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

    await reconcile_all(services(), timer_period=_period(timer))

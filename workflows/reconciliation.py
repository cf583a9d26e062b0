"""A reconciliation report's partner side: each partner's own statement, fetched on its queue, in parallel."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.reconciliation import ReconciliationActivities
    from core.payments import (
        PartnerStatement,
        ReconcileInput,
        ReconcilePartnerInput,
        ReconcileResult,
        payment_task_queue,
    )
    from workflows.options import ActivityOptions

# Someone is waiting for the report: a partner that cannot answer soon is reported as unavailable.
STATEMENT_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=20),
    "schedule_to_close_timeout": timedelta(seconds=40),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5)),
}


@workflow.defn
class Reconciliation:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        statements = await asyncio.gather(*(self._statement(code, input) for code in input.partner_client_codes))
        return ReconcileResult(day=input.day, statements=list(statements))

    async def _statement(self, code: str, input: ReconcileInput) -> PartnerStatement:
        try:
            return await workflow.execute_activity_method(
                ReconciliationActivities.reconcile_partner,
                ReconcilePartnerInput(partner_client_code=code, day=input.day),
                task_queue=payment_task_queue(code),
                **STATEMENT_CALL,
            )
        except ActivityError:
            return PartnerStatement(partner_client_code=code, available=False)

"""Patch ids (`workflow.patched`) of changes to running workflow logic.

Each patch id a new workflow meets costs a marker and an upsert of `TemporalChangeVersion` (billable actions), so
the changes of one release share one id: `ONE_ACTIVITY_PAYMENTS` covers, for journeys started with it, payments in
one activity (the `Disbursement` child only when needed, abandoned rather than cancelled when the journey closes),
search attributes upserted only when they change, one timer for the first-purchase deadline with purchases refused
by the workflow's clock after it, survey windows closed by the monthly ticks, e-KYC on the partner's interactive
queue, revocation booked before payments in flight settle, and, in `Disbursement`, a limit on PENDING. A workflow
that first ran without it keeps the old logic all its life (the SDK memoizes the answer per id), which the replay
fixtures recorded before the release prove.
"""

ONE_ACTIVITY_PAYMENTS = "one-activity-payments"

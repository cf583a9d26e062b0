"""Patch ids (`workflow.patched`) of changes to running workflow logic, one per release.

Each patch id a new workflow meets costs a marker and an upsert of `TemporalChangeVersion` (billable actions), so
the changes of one release share one id, and a workflow started under a later release records only that release's
id: `since_*` below ask for the newest id first, and the SDK answers each id once per run (memoized), so a workflow
keeps the logic of the release it started under all its life, which the replay fixtures of each release prove
(`tests/*/histories/*_<commit>.json`).

- `ONE_ACTIVITY_PAYMENTS` (commit 3a7428c): payments in one activity (the `Disbursement` workflow only when needed,
  abandoned rather than cancelled when the journey closes), search attributes upserted only when they change, one
  timer for the first-purchase deadline with purchases refused by the workflow's clock after it, survey windows
  closed by the monthly ticks, e-KYC on the partner's interactive queue, revocation booked before payments in flight
  settle, and, in `Disbursement`, a limit on PENDING.
- `LEAN_JOURNEY`: the identity and eligibility checks in one activity (`ScreeningActivities.screen_applicant`); the
  payment partner's search attribute published with the incentive phase's status instead of an upsert of its own
  when the account is linked; and, for journeys drawn in a wave with a `WaveCalendar`, no timer of the journey's own
  for the first-purchase deadline or the programme's close: the calendar tells the journeys that need it (a
  purchase after the close is refused by the journey's clock, as one after the deadline already was).
- `WRITTEN_AHEAD`: two writes the journey made by an activity of its own are made ahead of it, by the code that
  already holds the row. The wave's draw awards its winners' cards (the draw's signal carries the card), so the
  journey runs no `award` activity; and the API records the survey windows with the beneficiary's first completed
  training (the journey's first purchase marks the row for it, the completion's signal carries the windows' anchor),
  so the journey runs no `schedule_surveys`. A signal without them (an older sender) gets the activity as before.
- `LOCAL_PAYMENTS`: the journey's one-activity payment runs first as a local activity of its own worker
  (`PaymentActivities.pay_in_worker`), within the partner's budget for such calls: no task queue, no dispatch by the
  server, no workflow task of its own. A spent budget sends nothing, and the payment goes to the partner's queue as
  before (`pay`), where the server's rate limit paces a backlog.
"""

from temporalio import workflow

ONE_ACTIVITY_PAYMENTS = "one-activity-payments"
LEAN_JOURNEY = "lean-journey"
WRITTEN_AHEAD = "written-ahead"
LOCAL_PAYMENTS = "local-payments"


def since_local_payments() -> bool:
    return workflow.patched(LOCAL_PAYMENTS)


def since_written_ahead() -> bool:
    """True for workflows started under WRITTEN_AHEAD or any later release."""
    return since_local_payments() or workflow.patched(WRITTEN_AHEAD)


def since_lean_journey() -> bool:
    """True for workflows started under LEAN_JOURNEY or any later release."""
    return since_written_ahead() or workflow.patched(LEAN_JOURNEY)


def since_one_activity_payments() -> bool:
    """True for workflows started under ONE_ACTIVITY_PAYMENTS or any later release."""
    return since_lean_journey() or workflow.patched(ONE_ACTIVITY_PAYMENTS)

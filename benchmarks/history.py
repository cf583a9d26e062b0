"""What a workflow's history says it cost: billable actions, workflow tasks and events, counted per journey
(its own history plus its payment child workflows')."""

from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

# DESIGN.md section 4: 5 checks + 1 award + a few purchases/completions + 7 payments + 7 timers.
BUDGET = {"checks": 5, "award": 1, "purchase/completion/review": 3, "payments": 7, "timers": 7}

COUNTED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals received",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflows",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signals sent",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search-attribute upserts",
}
# A local activity leaves one marker in the history (its result); Temporal Cloud bills it as an action too.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
# Billable on Temporal Cloud, with the workflow start and the local activities. Workflow tasks are not billed, but
# each one is a server persistence round and a worker activation: what the embedded server and the worker spend time
# on.
ACTIONS = ("workflow starts", *COUNTED.values(), "local activities")
ROWS = (*ACTIONS, "workflow tasks", "history events")


@dataclass
class HistoryCount:
    counts: Counter = field(default_factory=Counter)
    activity_types: Counter = field(default_factory=Counter)
    children: list[str] = field(default_factory=list)

    def add(self, other: "HistoryCount") -> None:
        self.counts.update(other.counts)
        self.activity_types.update(other.activity_types)

    @property
    def actions(self) -> int:
        return sum(self.counts[k] for k in ACTIONS)


async def count_history(client: Client, workflow_id: str) -> HistoryCount:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    result = HistoryCount()
    result.counts["workflow starts"] = 1
    for event in history.events:
        result.counts["history events"] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            result.counts["workflow tasks"] += 1
        if (name := COUNTED.get(event.event_type)) is not None:
            result.counts[name] += 1
        if (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            result.counts["local activities"] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            result.activity_types[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            result.counts["activity retries"] += event.activity_task_started_event_attributes.attempt - 1
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            result.children.append(event.start_child_workflow_execution_initiated_event_attributes.workflow_id)
    return result


async def count_journey(client: Client, workflow_id: str) -> tuple[HistoryCount, HistoryCount]:
    """(the journey's own history, the sum over its payment child workflows)."""
    own = await count_history(client, workflow_id)
    children = HistoryCount()
    for child_id in own.children:
        children.add(await count_history(client, child_id))
    return own, children

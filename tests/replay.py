"""What the replay tests share: a folder of recorded histories, replayed against today's workflow code, and the
recorders that write them (with RECORD_HISTORIES=1)."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer, WorkflowReplayResult

from core.settings import Settings
from core.temporal import data_converter

RECORDING = os.environ.get("RECORD_HISTORIES") == "1"
# Commits whose code recorded every journey and payment path again (`*_<commit>.json`), one per release that changed
# running logic: one-activity-payments (3a7428c), lean-journey (a40ca77), written-ahead (57a6bd7), local-payments
# (8df0f4d).
RELEASES = ("3a7428c", "a40ca77", "57a6bd7", "8df0f4d")


@dataclass(frozen=True)
class Histories:
    """`<name>.json` histories in `folder`, each of one of `workflows`."""

    folder: Path
    workflows: Sequence[type]

    def recorded(self) -> list[Path]:
        return sorted(self.folder.glob("*.json"))

    def names(self) -> set[str]:
        return {path.stem for path in self.recorded()}

    def load(self, name: str) -> WorkflowHistory:
        return WorkflowHistory.from_json(name, (self.folder / f"{name}.json").read_text())

    async def replay(self, history: WorkflowHistory) -> WorkflowReplayResult:
        replayer = Replayer(workflows=list(self.workflows), data_converter=data_converter(Settings().codec_keys))
        return await replayer.replay_workflow(history)

    async def save(self, handle: WorkflowHandle, name: str) -> None:
        self.folder.mkdir(exist_ok=True)
        (self.folder / f"{name}.json").write_text((await handle.fetch_history()).to_json())

"""What the journey benchmark prints: each run against the bare twin, the histories' counts, and the summary per
completed journey that `make bench` ends with. Printing is this module's job (a benchmark's output)."""

import statistics
from collections import Counter
from dataclasses import dataclass

from benchmarks.cpu import CORES, Meter
from benchmarks.history import BUDGET, ROWS, HistoryCount
from benchmarks.journeys import JourneyRun

# The last incentive is paid and the last survey opens 90 programme days after the first completion.
FLOOR_MONTHS = 3


def print_ceiling(ceiling: Meter, n: int, timer_ms: int) -> None:
    print(f"\n(a) ceiling: bare journey-shaped workflow, {timer_ms} ms timers")
    for line in ceiling.report(n):
        print("    " + line)


def print_counts(bare: HistoryCount, own: HistoryCount, children: HistoryCount, samples: int) -> None:
    def per(c: HistoryCount, key: str) -> float:
        return c.counts[key] / samples

    print(f"\n  per journey, from fetch_history() of {samples} journeys and of their payment child workflows:")
    print(f"    {'':26} {'bare':>6} {'journey':>8} {'payments':>9} {'total':>7}")
    for key in ROWS:
        total = per(own, key) + per(children, key)
        print(f"    {key:26} {bare.counts[key]:6d} {per(own, key):8.1f} {per(children, key):9.1f} {total:7.1f}")
    own_a, child_a = own.actions / samples, children.actions / samples
    print(f"    {'actions (billable)':26} {bare.actions:6d} {own_a:8.1f} {child_a:9.1f} {own_a + child_a:7.1f}")
    retries = per(own, "activity retries") + per(children, "activity retries")
    print(f"    {'activity retries':26} {bare.counts['activity retries']:6d} {'':8} {'':9} {retries:7.1f}")
    budget, actions = sum(BUDGET.values()), own_a + child_a
    tasks = (per(own, "workflow tasks") + per(children, "workflow tasks")) / bare.counts["workflow tasks"]
    events = (per(own, "history events") + per(children, "history events")) / bare.counts["history events"]
    print(
        f"    DESIGN §4 budget ≈{budget} actions ({' + '.join(f'{v} {k}' for k, v in BUDGET.items())}); "
        f"measured {actions:.0f} = {actions / budget:.1f}x. Workflow tasks {tasks:.1f}x and history events "
        f"{events:.1f}x the bare journey's."
    )
    kinds = Counter({k: v / samples for k, v in (own.activity_types + children.activity_types).items()})
    print("    activities by type: " + ", ".join(f"{k} {v:g}" for k, v in kinds.most_common()))


@dataclass
class Summary:
    """One completed journey in the units of issue 11, from one run (own CPU and the bare twin's)."""

    name: str
    actions: float
    events: float
    tasks: float
    bare_journeys_of_cpu: float
    cpu_ms: float
    valid: bool


def summarise(
    name: str, run: JourneyRun, ceiling: Meter, own: HistoryCount, children: HistoryCount, samples: int
) -> Summary:
    n = len(run.handles)
    cpu, bare_cpu = run.meter.net_cpu / n, ceiling.net_cpu / n

    def per(key: str) -> float:
        return (own.counts[key] + children.counts[key]) / samples

    return Summary(
        name=name,
        actions=(own.actions + children.actions) / samples,
        events=per("history events"),
        tasks=per("workflow tasks"),
        bare_journeys_of_cpu=cpu / bare_cpu if bare_cpu else float("nan"),
        cpu_ms=cpu * 1000,
        valid=run.valid,
    )


def print_summary(summaries: list[Summary], bare: HistoryCount, bare_cpu_ms: float) -> None:
    print("\nper completed journey (history of sample journeys + their child workflows; CPU net of idle):")
    print(f"    {'':36} {'actions':>8} {'events':>7} {'wf tasks':>9} {'CPU ms':>7} {'bare journeys of CPU':>21}")
    print(
        f"    {'bare twin (same run)':36} {bare.actions:8d} {bare.counts['history events']:7d} "
        f"{bare.counts['workflow tasks']:9d} {bare_cpu_ms:7.0f} {1.0:21.1f}"
    )
    for s in summaries:
        flag = "" if s.valid else "  !! not a valid run"
        print(
            f"    {s.name:36} {s.actions:8.1f} {s.events:7.1f} {s.tasks:9.1f} {s.cpu_ms:7.0f} "
            f"{s.bare_journeys_of_cpu:21.1f}{flag}"
        )
    print("    issue 11 asks for <= 30 actions and <= 3 bare journeys of CPU per completed journey")


def print_run(name: str, run: JourneyRun, ceiling: Meter, month_s: float) -> None:
    n, m = len(run.handles), run.meter
    print(f"\n(b) BeneficiaryJourney, prakerja-2020, {name}, 1 programme month = {month_s:g} s")
    for line in m.report(n):
        print("    " + line)
    print("    phases after the first registration: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.phases.items()))
    floor = run.phases["drawn (1 wave, N signals)"] + FLOOR_MONTHS * month_s
    print(
        f"    programme-time floor = drawn + {FLOOR_MONTHS} months = {floor:.1f} s. Steps, seconds after the "
        "draw (median/max): "
        + ", ".join(f"{k} {statistics.median(v):.1f}/{max(v):.1f}" for k, v in run.stats.marks.items())
    )
    _print_outcomes(run, month_s)
    _print_against_ceiling(run, ceiling, floor)
    if run.profile is not None:
        print("\n  where the worker process's CPU went (--profile):")
        for line in run.profile.report():
            print("    " + line)


def _print_outcomes(run: JourneyRun, month_s: float) -> None:
    stats = run.stats
    lag = sorted(stats.survey_lag) or [0.0]
    print(
        f"    outcomes {dict(run.outcomes)}; EWALLET received {dict(run.paid)}; purchase updates refused "
        f"NOT_AWARDED (row ahead of the workflow) and retried: {stats.purchase_retries}; survey windows "
        f"missed {stats.missed_windows}, signal lag median {statistics.median(lag):.2f} s, max {lag[-1]:.2f} s"
    )
    if not run.valid:
        print(
            f"    !! NOT A VALID RUN: a month of {month_s:g} s was too short for one burst of {len(run.handles)} "
            "journeys (deadlines and survey windows expired). Rerun with a larger --month-seconds."
        )


def _print_against_ceiling(run: JourneyRun, ceiling: Meter, floor: float) -> None:
    n, m = len(run.handles), run.meter
    cpu, ceiling_cpu = m.net_cpu / n, ceiling.net_cpu / n
    print(
        f"    vs ceiling: wall rate {(n / m.wall) / (n / ceiling.wall):.0%} of the ceiling's, CPU-bound rate "
        f"{ceiling_cpu / cpu:.0%} of its (one journey costs {cpu / ceiling_cpu:.1f} bare journeys of CPU)"
    )
    _, window_wall, window_paid = run.payment_window
    if (per_payment := run.cpu_per_payment()) is not None and window_wall >= 10:
        print(
            f"    one payment (the parent's part and the payment path's): {per_payment * 1000:.0f} ms of CPU = "
            f"{per_payment / ceiling_cpu:.1f} bare journeys (measured over the 2nd month, {window_wall:.0f} s, "
            f"{window_paid} payments); 7 of them = {7 * per_payment / cpu:.0%} of a journey's CPU"
        )
    work = m.net_cpu / CORES  # seconds of both cores fully busy
    print(
        f"    what dominates the wall time ({m.wall:.0f} s): programme time (the floor) {floor:.0f} s; "
        f"the work itself needs {work:.0f} s of both cores; one wave moves all journeys in step, so the "
        "work comes in bursts (award/purchase/link, then each month's payments) and the rest of each "
        "month is idle. "
        + (
            "Here the timers dominate: CPU-bound throughput is the capacity figure."
            if floor >= work
            else "Here the server/worker CPU dominates."
        )
    )


def print_warnings(counts: Counter[str]) -> None:
    if counts:
        print("\nSDK warnings during the run (counted, not printed):")
        for what, count in counts.most_common():
            print(f"    {count:5d} x {what}")

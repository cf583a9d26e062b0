"""The wave draw as a pure function: anyone holding the seed and the recorded pool can re-derive it."""

import hashlib
from collections.abc import Iterable, Mapping


def rank_key(seed: str, registration_id: str) -> str:
    """Order of the draw: SHA-256 of seed and registration id, so the ranking needs no hidden state."""
    return hashlib.sha256(f"{seed}:{registration_id}".encode()).hexdigest()


def draw(
    seed: str, pool: Iterable[tuple[str, str]], quota: int, province_quotas: Mapping[str, int] | None = None
) -> set[str]:
    """Select registration ids from (registration_id, province) pairs within the overall and province quotas.

    Provinces named in `province_quotas` are capped at their own quota; the others share what remains of
    the overall quota, in rank order.
    """
    caps = dict(province_quotas or {})
    taken: dict[str, int] = {}
    selected: set[str] = set()
    for registration_id, province in sorted(pool, key=lambda entry: rank_key(seed, entry[0])):
        if len(selected) >= quota:
            break
        if province in caps and taken.get(province, 0) >= caps[province]:
            continue
        selected.add(registration_id)
        taken[province] = taken.get(province, 0) + 1
    return selected

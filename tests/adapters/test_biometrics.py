import base64

from adapters.biometrics import FaceCheck
from tests.adapters.sim_support import BORN, KK, NIK, OTHER_NIK

FACE = base64.b64encode(b"\x89PNG face of Siti").decode()
OTHER_FACE = base64.b64encode(b"\x89PNG face of Budi").decode()


async def test_known_citizen_passes_by_default(adapters):
    check = await adapters.biometrics.check(NIK, FACE)
    assert check == FaceCheck(liveness=True, match_score=0.95, duplicate=False)


async def test_override_applies_to_the_next_check_only(adapters, world):
    world.set_biometrics(NIK, liveness=False, match_score=0.3)
    first = await adapters.biometrics.check(NIK, FACE)
    second = await adapters.biometrics.check(NIK, FACE)
    assert (first.liveness, first.match_score) == (False, 0.3)
    assert (second.liveness, second.match_score) == (True, 0.95)


async def test_same_face_under_another_nik_is_a_duplicate(adapters, world):
    world.add_citizen(OTHER_NIK, KK, "Budi Santoso", BORN)
    assert not (await adapters.biometrics.check(NIK, FACE)).duplicate
    broker = await adapters.biometrics.check(OTHER_NIK, FACE)
    assert broker.duplicate
    # The first owner keeps the face: checking again under the original NIK is not a duplicate.
    assert not (await adapters.biometrics.check(NIK, FACE)).duplicate
    assert not (await adapters.biometrics.check(OTHER_NIK, OTHER_FACE)).duplicate


async def test_failed_liveness_does_not_enroll_the_face(adapters, world):
    world.add_citizen(OTHER_NIK, KK, "Budi Santoso", BORN)
    world.set_biometrics(NIK, liveness=False, match_score=0.9)
    await adapters.biometrics.check(NIK, FACE)
    assert not (await adapters.biometrics.check(OTHER_NIK, FACE)).duplicate


async def test_unknown_nik_scores_zero_but_still_searches(adapters):
    await adapters.biometrics.check(NIK, FACE)
    stranger = await adapters.biometrics.check(OTHER_NIK, FACE)
    assert stranger == FaceCheck(liveness=True, match_score=0.0, duplicate=True)


async def test_selfie_that_is_not_base64_is_its_own_face(adapters, world):
    world.add_citizen(OTHER_NIK, KK, "Budi Santoso", BORN)
    await adapters.biometrics.check(NIK, "not base64 at all!")
    assert (await adapters.biometrics.check(OTHER_NIK, "not base64 at all!")).duplicate

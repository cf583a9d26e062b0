from datetime import date

from adapters.civil_registry import CitizenCheck
from tests.adapters.sim_support import BORN, KK, NIK, OTHER_NIK


async def test_unknown_nik_is_not_found(adapters):
    check = await adapters.civil_registry.verify(OTHER_NIK, KK, "Siti Nurhaliza", BORN)
    assert check == CitizenCheck(found=False)


async def test_matching_record_ignores_case_and_spacing(adapters):
    check = await adapters.civil_registry.verify(NIK, KK, "  siti   NURHALIZA ", BORN)
    assert check == CitizenCheck(found=True, name_dob_match=True, kk_match=True)


async def test_name_dob_and_kk_mismatches(adapters):
    wrong_name = await adapters.civil_registry.verify(NIK, KK, "Siti Aminah", BORN)
    wrong_dob = await adapters.civil_registry.verify(NIK, KK, "Siti Nurhaliza", date(1991, 5, 17))
    wrong_kk = await adapters.civil_registry.verify(NIK, "3171000000009999", "Siti Nurhaliza", BORN)
    assert (wrong_name.found, wrong_name.name_dob_match, wrong_name.kk_match) == (True, False, True)
    assert (wrong_dob.name_dob_match, wrong_dob.kk_match) == (False, True)
    assert (wrong_kk.name_dob_match, wrong_kk.kk_match) == (True, False)


async def test_deceased_and_registered_occupation(adapters, world):
    world.add_citizen(OTHER_NIK, KK, "Budi Santoso", date(1970, 1, 1), deceased=True)
    world.add_occupation(NIK, "CIVIL_SERVANT")
    dead = await adapters.civil_registry.verify(OTHER_NIK, KK, "Budi Santoso", date(1970, 1, 1))
    servant = await adapters.civil_registry.verify(NIK, KK, "Siti Nurhaliza", BORN)
    assert dead.deceased and dead.name_dob_match
    assert servant.occupation == "CIVIL_SERVANT" and not servant.deceased

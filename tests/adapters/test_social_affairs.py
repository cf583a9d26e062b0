from adapters.social_affairs import AssistanceCheck
from tests.adapters.sim_support import NIK, OTHER_NIK


async def test_recipient_lists_every_programme(adapters, world):
    world.add_social_assistance(NIK, "PKH")
    world.add_social_assistance(NIK, "BPNT")
    world.add_social_assistance(NIK, "PKH")
    assert await adapters.social_affairs.check(NIK) == AssistanceCheck(
        receives_assistance=True, programmes=["BPNT", "PKH"]
    )


async def test_non_recipient(adapters):
    assert await adapters.social_affairs.check(OTHER_NIK) == AssistanceCheck(receives_assistance=False, programmes=[])

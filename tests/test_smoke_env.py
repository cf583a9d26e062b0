from sqlalchemy import select

from db.models import Partner


async def test_database_migrated_and_empty(sessions):
    async with sessions() as s:
        assert (await s.execute(select(Partner))).all() == []


async def test_time_skipping_server_starts(ts_env):
    assert ts_env.supports_time_skipping


async def test_dev_server_has_search_attributes(dev_env):
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    resp = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=dev_env.client.namespace)
    )
    assert "PrakerjaStatus" in resp.custom_attributes

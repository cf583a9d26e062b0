from adapters.marketplace import NotificationKind


async def test_notifications_are_recorded_once(adapters, world, sim):
    await adapters.marketplace.card_blocked("mp-tokopedia", "5200000000000001", "REVOKED_BY_OPERATOR")
    await adapters.marketplace.card_blocked("mp-tokopedia", "5200000000000001", "REVOKED_BY_OPERATOR")
    await adapters.marketplace.purchase_voided("mp-bukalapak", "PUR-77", "REVOKED_BY_OPERATOR")

    got = [(n.marketplace_client_code, n.kind, n.prakerja_number, n.purchase_ref) for n in world.notifications]
    assert got == [
        ("mp-tokopedia", NotificationKind.CARD_BLOCKED, "5200000000000001", None),
        ("mp-bukalapak", NotificationKind.PURCHASE_VOIDED, None, "PUR-77"),
    ]
    listed = (await sim.get("/sim/marketplace-notifications")).json()
    assert [n["kind"] for n in listed] == ["CARD_BLOCKED", "PURCHASE_VOIDED"]

"""The guard of tests/conftest.py's shared botocore loader: sessions built during the tests
share one parsed copy of the service models, and clients still work."""

from __future__ import annotations

import botocore.session


def test_every_session_of_the_test_process_shares_one_model_loader() -> None:
    # GIVEN two sessions, as two fresh app containers build them
    first, second = botocore.session.get_session(), botocore.session.get_session()
    # THEN they read the service models through one loader
    assert first.get_component("data_loader") is second.get_component("data_loader")
    # AND a client of each knows the same operations
    one = first.create_client("dynamodb", region_name="ap-northeast-2")
    two = second.create_client("dynamodb", region_name="ap-northeast-2")
    assert one.meta.service_model.operation_names == two.meta.service_model.operation_names
    assert "TransactWriteItems" in one.meta.service_model.operation_names

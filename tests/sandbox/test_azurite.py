from __future__ import annotations

from azure.data.tables import TableServiceClient


def test_azurite_serves_tables(azurite_connection_string: str, unique_name: str) -> None:
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    table = service.create_table(unique_name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    assert table.get_entity("p", "r")["v"] == 1

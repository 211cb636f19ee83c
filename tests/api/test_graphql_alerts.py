"""GraphQL stock alerts over HTTP: rule create/update/delete with payload errors, alerts with a status
filter and keyset pages, acknowledge, roles and tenant isolation."""
from __future__ import annotations

from server.core import db
from server.inventory import alerts
from tests.api.test_graphql_catalog import gql
from tests.service.test_stock_alerts import world

RULE_FIELDS = """id name kind sku category warehouse threshold coverDays demandDays recipients active alerting
  createdAt updatedAt"""
CREATE = f"""mutation($input: StockAlertRuleInput!) {{
  stockAlertRuleCreate(input: $input) {{ stockAlertRule {{ {RULE_FIELDS} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: StockAlertRuleInput!) {{
  stockAlertRuleUpdate(id: $id, input: $input) {{ stockAlertRule {{ {RULE_FIELDS} }} errors {{ code field }} }} }}"""
DELETE = """mutation($id: ID!) { stockAlertRuleDelete(id: $id) { stockAlertRule { id name } errors { code field } } }"""
RULES = f"""query($first: Int, $after: String) {{ stockAlertRules(first: $first, after: $after) {{
  totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {RULE_FIELDS} }} }} }} }}"""
ALERTS = """query($filter: StockAlertFilterInput, $first: Int, $after: String) {
  stockAlerts(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id status kind ruleId ruleName sku skuName warehouse available availableNow threshold coverDays dailyDemand
                   daysOfCover openedAt acknowledgedAt acknowledgedBy resolvedAt } } } }"""
ACK = """mutation($ids: [ID!]!) { stockAlertAcknowledge(ids: $ids) {
  stockAlerts { id status acknowledgedBy } errors { code field message } } }"""


async def test_rules_crud_and_alerts(client, merchant, api_key):
    await world(merchant)
    _, key = await api_key(merchant, "admin", name="erp")
    body = await gql(client, CREATE, key, {"input": {"kind": "THRESHOLD", "category": "tea", "warehouse": "HZ",
                                                      "threshold": 5, "name": "HZ tea",
                                                      "recipients": ["Buyer@Example.com"]}})
    result = body["data"]["stockAlertRuleCreate"]
    assert result["errors"] == []
    rule = result["stockAlertRule"]
    assert (rule["kind"], rule["category"], rule["sku"], rule["warehouse"], rule["threshold"], rule["demandDays"]) == (
        "THRESHOLD", "tea", None, "HZ", 5, 14)
    assert rule["recipients"] == ["buyer@example.com"] and rule["alerting"] == 2   # TEA 5, OOLONG 0 at HZ

    page = (await gql(client, ALERTS, key, {"first": 1}))["data"]["stockAlerts"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    rest = (await gql(client, ALERTS, key, {"first": 1, "after": page["pageInfo"]["endCursor"]}))["data"]["stockAlerts"]
    nodes = [page["edges"][0]["node"], rest["edges"][0]["node"]]
    assert sorted(n["sku"] for n in nodes) == ["OOLONG", "TEA"] and not rest["pageInfo"]["hasNextPage"]
    assert {n["warehouse"] for n in nodes} == {"HZ"} and {n["status"] for n in nodes} == {"OPEN"}
    assert nodes[0]["ruleId"] == rule["id"] and nodes[0]["ruleName"] == "HZ tea"
    assert all(n["available"] == n["availableNow"] for n in nodes)

    acked = (await gql(client, ACK, key, {"ids": [nodes[0]["id"]]}))["data"]["stockAlertAcknowledge"]
    assert acked["errors"] == [] and acked["stockAlerts"] == [
        {"id": nodes[0]["id"], "status": "ACKNOWLEDGED", "acknowledgedBy": "key:erp"}]
    open_only = (await gql(client, ALERTS, key, {"filter": {"status": "OPEN"}}))["data"]["stockAlerts"]
    assert [e["node"]["id"] for e in open_only["edges"]] == [nodes[1]["id"]]

    updated = (await gql(client, UPDATE, key, {"id": rule["id"], "input": {"threshold": 0}}))["data"]
    assert updated["stockAlertRuleUpdate"]["errors"] == []
    assert updated["stockAlertRuleUpdate"]["stockAlertRule"]["alerting"] == 1      # only OOLONG (0) is <= 0
    days = (await gql(client, UPDATE, key, {"id": rule["id"], "input": {"kind": "DAYS_OF_COVER", "coverDays": 3.5,
                                                                         "demandDays": 7}}))["data"]
    changed = days["stockAlertRuleUpdate"]["stockAlertRule"]
    assert (changed["kind"], changed["threshold"], changed["coverDays"], changed["demandDays"]) == (
        "DAYS_OF_COVER", None, 3.5, 7)
    resolved = (await gql(client, ALERTS, key, {"filter": {"status": "RESOLVED"}}))["data"]["stockAlerts"]
    assert resolved["totalCount"] == 2

    rules = (await gql(client, RULES, key))["data"]["stockAlertRules"]
    assert rules["totalCount"] == 1 and rules["edges"][0]["node"]["id"] == rule["id"]
    gone = (await gql(client, DELETE, key, {"id": rule["id"]}))["data"]["stockAlertRuleDelete"]
    assert gone == {"stockAlertRule": {"id": rule["id"], "name": "HZ tea"}, "errors": []}
    again = (await gql(client, DELETE, key, {"id": rule["id"]}))["data"]["stockAlertRuleDelete"]
    assert again["errors"] == [{"code": "not_found", "field": "id"}]


async def test_payload_errors_name_the_fields(client, merchant, api_key):
    await world(merchant)
    _, key = await api_key(merchant, "admin")
    body = await gql(client, CREATE, key, {"input": {"kind": "DAYS_OF_COVER", "sku": "NOPE", "coverDays": -1,
                                                      "demandDays": 400, "recipients": ["not-an-email"]}})
    result = body["data"]["stockAlertRuleCreate"]
    assert result["stockAlertRule"] is None
    assert {(e["code"], e["field"]) for e in result["errors"]} == {
        ("unknown_sku", "sku"), ("invalid", "coverDays"), ("out_of_range", "demandDays"),
        ("invalid_email", "recipients")}
    body = await gql(client, CREATE, key, {"input": {"sku": "TEA"}})
    assert body["data"]["stockAlertRuleCreate"]["errors"][0]["field"] == "kind"
    bad_ack = (await gql(client, ACK, key, {"ids": ["abc"]}))["data"]["stockAlertAcknowledge"]
    assert bad_ack["errors"][0]["code"] == "invalid_id"
    assert await db.fetchval("SELECT count(*) FROM stock_alert_rule") == 0


async def test_roles_and_tenants(client, merchant, other_merchant, api_key):
    actor = await world(merchant)
    theirs = await world(other_merchant)
    await alerts.create_rule(theirs, {"sku": "CUP", "kind": "threshold", "threshold": 5})
    their_alert = await db.fetchval("SELECT id FROM stock_alert WHERE merchant_id = $1", other_merchant["id"])
    their_rule = await db.fetchval("SELECT id FROM stock_alert_rule WHERE merchant_id = $1", other_merchant["id"])
    await alerts.create_rule(actor, {"sku": "TEA", "kind": "threshold", "threshold": 1})
    _, reader = await api_key(merchant, "partner_readonly")
    _, admin = await api_key(merchant, "admin")

    denied = await gql(client, CREATE, reader, {"input": {"kind": "THRESHOLD", "sku": "CUP", "threshold": 1}})
    assert denied["data"]["stockAlertRuleCreate"]["errors"][0]["code"] == "permission_denied"
    assert (await gql(client, ACK, reader, {"ids": ["1"]}))["data"]["stockAlertAcknowledge"]["errors"][0]["code"] \
        == "permission_denied"
    listed = (await gql(client, RULES, reader))["data"]["stockAlertRules"]
    assert [e["node"]["sku"] for e in listed["edges"]] == ["TEA"]
    assert (await gql(client, ALERTS, admin))["data"]["stockAlerts"]["totalCount"] == 0
    ack = (await gql(client, ACK, admin, {"ids": [str(their_alert)]}))["data"]["stockAlertAcknowledge"]
    assert ack["errors"][0]["code"] == "not_found"
    upd = (await gql(client, UPDATE, admin, {"id": str(their_rule), "input": {"threshold": 0}}))["data"]
    assert upd["stockAlertRuleUpdate"]["errors"] == [{"code": "not_found", "field": "id"}]
    assert await db.fetchval("SELECT status FROM stock_alert WHERE id = $1", their_alert) == "open"
    assert await db.fetchval("SELECT threshold FROM stock_alert_rule WHERE id = $1", their_rule) == 5

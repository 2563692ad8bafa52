"""Operations infra against the code: alerts and the workbook watch signals the app really
emits, always-ready HTTP instances, opt-in private networking, diagnostic settings, API
authentication settings, and defaults that match bookker_sync/settings.py.

Evaluated statically like test_template.py (tests/infra/bicep_model.py). Metric names come
from bookker_sync/telemetry.py's instruments, function names from the registered blueprints.
"""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func
import pytest
from pydantic import BaseModel

from bookker_sync import telemetry
from bookker_sync.functions import BLUEPRINTS
from bookker_sync.functions.responses import json_response
from bookker_sync.settings import SETTING_NAMES, GraphSettings, Settings, SyncSettings
from bookker_sync.storage.queues import APP_QUEUES, poison_queue
from tests.infra.bicep_model import REPO, Opaque, Project, ResourceRef
from tests.infra.test_template import (
    APP_INSIGHTS,
    CLIENT_ID,
    KEY_VAULT,
    SITE,
    STORAGE_ACCOUNT,
    all_instances,
    app_settings,
    deployment,
    main_outputs,
    resolve_name,
    the_instance,
)

DOCS = REPO / "docs" / "deploy.md"
LOG_ALERT = "Microsoft.Insights/scheduledQueryRules"
METRIC_ALERT = "Microsoft.Insights/metricAlerts"
WEB_TEST = "Microsoft.Insights/webtests"
ACTION_GROUP = "Microsoft.Insights/actionGroups"
WORKBOOK = "Microsoft.Insights/workbooks"
DIAGNOSTICS = "Microsoft.Insights/diagnosticSettings"
LOG_ANALYTICS = "Microsoft.OperationalInsights/workspaces"
VNET = "Microsoft.Network/virtualNetworks"
PRIVATE_ENDPOINT = "Microsoft.Network/privateEndpoints"
ZONE_GROUP = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
DNS_ZONE = "Microsoft.Network/privateDnsZones"
ZONE_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
BLOB_SERVICE = "Microsoft.Storage/storageAccounts/blobServices"
QUEUE_SERVICE = "Microsoft.Storage/storageAccounts/queueServices"
TABLE_SERVICE = "Microsoft.Storage/storageAccounts/tableServices"
NETWORK_TYPES = (VNET, PRIVATE_ENDPOINT, ZONE_GROUP, DNS_ZONE, ZONE_LINK)

# The private DNS zone of each private endpoint's sub-resource (group id), public cloud.
# https://learn.microsoft.com/azure/private-link/private-endpoint-dns
PRIVATE_ZONES = {
    "blob": ("privatelink.blob.core.windows.net", STORAGE_ACCOUNT),
    "queue": ("privatelink.queue.core.windows.net", STORAGE_ACCOUNT),
    "table": ("privatelink.table.core.windows.net", STORAGE_ACCOUNT),
    "vault": ("privatelink.vaultcore.azure.net", KEY_VAULT),
}


# ------------------------------------------------------------------ helpers


def metric_name(instrument: Any) -> str:
    """An OpenTelemetry instrument's name (API proxies keep it in ``_name``)."""
    name = getattr(instrument, "name", None) or instrument._name
    assert isinstance(name, str) and name.startswith("bookker.")
    return name


def functions() -> dict[str, Any]:
    """The app's functions by name, as the Functions host registers them."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    for blueprint in BLUEPRINTS:
        app.register_functions(blueprint)
    return {str(f.get_function_name()): f.get_trigger() for f in app.get_functions()}


def log_alerts(project: Project) -> dict[str, dict[str, Any]]:
    """Log search alert rules by the suffix of their name (<app>-<key>)."""
    app = the_instance(project, SITE)["name"]
    rules = {}
    for rule in all_instances(project, LOG_ALERT):
        assert rule["name"].startswith(f"{app}-"), rule["name"]
        rules[rule["name"].removeprefix(f"{app}-")] = rule
    return rules


def criterion(rule: dict[str, Any]) -> dict[str, Any]:
    (only,) = rule["properties"]["criteria"]["allOf"]
    assert isinstance(only, dict)
    return only


def is_ref(value: Any, rtype: str, path: tuple[str, ...] = ("id",)) -> bool:
    return isinstance(value, Opaque) and value.base.resource.type == rtype and value.path == path


def assigned_columns(query: str) -> set[str]:
    """Columns a KQL query names: `name = ...` in extend/summarize/project, and `by` keys."""
    names = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", query))
    for clause in re.findall(r"\bby\s+([^\n|]+)", query):
        names |= {c.strip() for c in clause.split(",") if re.fullmatch(r"\s*\w+\s*", c)}
    return names


def app_insights_name(project: Project) -> str:
    return str(the_instance(project, APP_INSIGHTS)["name"])


# ------------------------------------------------------------------ log search alerts


def test_the_log_alerts_exist_and_watch_application_insights() -> None:
    project = deployment()
    rules = log_alerts(project)
    assert set(rules) == {"poison-messages", "rooms-behind", "needs-consent", "webhook-latency"}
    for key, rule in rules.items():
        assert rule["kind"] == "LogAlert", key
        props = rule["properties"]
        assert props["enabled"] is True and props["autoMitigate"] is True, key
        (scope,) = props["scopes"]
        assert is_ref(scope, APP_INSIGHTS), f"{key}: scoped to {scope}"
        assert resolve_name(project, scope.base) == app_insights_name(project)
        assert 0 <= props["severity"] <= 4
        condition = criterion(rule)
        assert condition["operator"] == "GreaterThan", key
        measure = condition["metricMeasureColumn"]
        if measure is None:
            assert condition["timeAggregation"] == "Count", f"{key}: counts rows"
        else:
            assert measure in assigned_columns(condition["query"]), f"{key}: no column {measure}"
        for dimension in condition["dimensions"]:
            assert dimension["name"] in assigned_columns(condition["query"]), (key, dimension)


def test_poison_alert() -> None:
    condition = criterion(log_alerts(deployment())["poison-messages"])
    query = condition["query"]
    # Moved by the app itself (bookker.queue.poison, attribute "queue")...
    assert f'name == "{metric_name(telemetry.POISON_MESSAGES)}"' in query
    assert "customDimensions.queue" in query
    # ... and by the host after maxDequeueCount, whose log line names the poison queue.
    assert "MaxDequeueCount" in query and "-poison" in query
    host_line = "Message has reached MaxDequeueCount of 5. Moving message to queue '{}'."
    pattern = re.search(r'extract\(@"(.+?)", 1, message\)', query)
    assert pattern is not None
    for queue in APP_QUEUES:
        match = re.search(pattern.group(1), host_line.format(poison_queue(queue)))
        assert match and match.group(1) == poison_queue(queue)
    assert (condition["threshold"], condition["timeAggregation"]) == (0, "Total")
    assert [d["name"] for d in condition["dimensions"]] == ["queue"]


@pytest.mark.parametrize("minutes", [15, 30])
def test_rooms_behind_alert_follows_the_reconcile_interval(minutes: int) -> None:
    project = deployment(reconcileIntervalMinutes=minutes)
    rule = log_alerts(project)["rooms-behind"]
    condition = criterion(rule)
    query = condition["query"]
    assert f'name == "{metric_name(telemetry.SYNC_LAG)}"' in query
    assert f"let interval = {minutes}m;" in query
    assert "lastSync < ago(2 * interval)" in query, "no successful sync for 2 intervals"
    assert f"recentLagSeconds > {minutes} * 60" in query, "lag beyond one interval"
    assert "{minutes}" not in query, "placeholder left in the query"
    assert condition["threshold"] == 0
    assert {d["name"] for d in condition["dimensions"]} == {"tenant", "mailbox"}
    # A room that stopped syncing hours ago must stay in the results.
    assert rule["properties"]["overrideQueryTimeRange"] == "P1D"
    assert "ago(1d)" in query


def test_needs_consent_alert() -> None:
    condition = criterion(log_alerts(deployment())["needs-consent"])
    query = condition["query"]
    assert f'name == "{metric_name(telemetry.GRAPH_REQUESTS)}"' in query
    assert '"401", "403"' in query, "GraphError.permission: 401 and 403"
    assert "renewal: due=" in query and "needs-consent=" in query
    assert condition["threshold"] == 0


def test_the_log_lines_the_alerts_parse_are_still_written() -> None:
    """The alerts and workbook read these phrases from traces; the code must still log them."""
    sources = {
        "bookker_sync/sync/subscriptions/renewal.py": ["renewal: due=%d", "needs-consent=%d"],
        "bookker_sync/graph/transport.py": ['"Graph %s on %s: retry'],
    }
    for path, phrases in sources.items():
        text = (REPO / path).read_text()
        for phrase in phrases:
            assert phrase in text, f"{path} no longer logs {phrase!r}"


def test_webhook_latency_alert() -> None:
    trigger = functions()["graph_notifications"]
    assert trigger.type == "httpTrigger" and trigger.route == "graph/notifications"
    project = deployment()
    condition = criterion(log_alerts(project)["webhook-latency"])
    assert 'name == "graph_notifications"' in condition["query"]
    assert "percentile(duration, 99)" in condition["query"]
    assert condition["metricMeasureColumn"] == "p99"
    assert (condition["timeAggregation"], condition["threshold"]) == ("Maximum", 2000)
    custom = criterion(log_alerts(deployment(webhookP99ThresholdMs=1500))["webhook-latency"])
    assert custom["threshold"] == 1500


# ------------------------------------------------------------------ health


def test_health_availability_test_and_alert() -> None:
    trigger = functions()["health"]
    assert trigger.route == "health" and trigger.auth_level == func.AuthLevel.ANONYMOUS
    project = deployment()
    test = the_instance(project, WEB_TEST)
    assert test["kind"] == "standard" and test["properties"]["Kind"] == "standard"
    assert test["properties"]["Request"]["RequestUrl"] == (
        "https://<site.properties.defaultHostName>/api/health"
    )
    (link,) = [k for k in test["tags"] if k.startswith("hidden-link:")]
    assert link == "hidden-link:<applicationInsights.id>" and test["tags"][link] == "Resource"
    rules = test["properties"]["ValidationRules"]
    assert rules["ExpectedHttpStatusCode"] == 200
    match = rules["ContentValidation"]
    assert match["PassIfTextFound"] is True
    # The match is what the app's own JSON writer produces for ok, and only for ok.
    for status, passes in (("ok", True), ("degraded", False), ("unhealthy", False)):
        body = json_response({"status": status, "time": "t"}).get_body().decode()
        assert (match["ContentMatch"] in body) is passes, status

    alert = the_instance(project, METRIC_ALERT)["properties"]
    criteria = alert["criteria"]
    assert criteria["odata.type"] == "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"
    assert is_ref(criteria["webTestId"], WEB_TEST) and is_ref(criteria["componentId"], APP_INSIGHTS)
    assert 1 <= criteria["failedLocationCount"] < len(test["properties"]["Locations"])
    assert alert["scopes"] == [criteria["webTestId"], criteria["componentId"]]


# ------------------------------------------------------------------ action group


def alert_targets(project: Project) -> list[list[Any]]:
    """Per alert rule (log and metric), the action group ids it notifies."""
    targets = [
        r["properties"]["actions"]["actionGroups"] for r in all_instances(project, LOG_ALERT)
    ]
    for rule in all_instances(project, METRIC_ALERT):
        targets.append([a["actionGroupId"] for a in rule["properties"]["actions"]])
    assert len(targets) == 5
    return targets


def test_alerts_without_an_action_group_fire_in_the_portal_only() -> None:
    project = deployment()
    assert all_instances(project, ACTION_GROUP) == []
    assert all(t == [] for t in alert_targets(project))


def test_alert_emails_create_an_action_group() -> None:
    emails = ["ops@example.com", "oncall@example.com"]
    project = deployment(alertEmails=emails)
    (group,) = all_instances(project, ACTION_GROUP)
    assert group["location"] == "global"
    assert len(group["properties"]["groupShortName"]) <= 12
    receivers = group["properties"]["emailReceivers"]
    assert [r["emailAddress"] for r in receivers] == emails
    assert len({r["name"] for r in receivers}) == len(receivers), "receiver names are unique"
    for target in alert_targets(project):
        (only,) = target
        assert is_ref(only, ACTION_GROUP), target


def test_an_existing_action_group_is_used_as_is() -> None:
    existing = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ops"
        "/providers/Microsoft.Insights/actionGroups/oncall"
    )
    project = deployment(actionGroupId=existing, alertEmails=["ignored@example.com"])
    assert all_instances(project, ACTION_GROUP) == []
    assert all(t == [existing] for t in alert_targets(project))


# ------------------------------------------------------------------ workbook


def test_workbook_shows_sync_lag_and_graph_429s() -> None:
    project = deployment()
    workbook = the_instance(project, WORKBOOK)
    assert workbook["kind"] == "shared"
    props = workbook["properties"]
    assert props["category"] == "workbook" and is_ref(props["sourceId"], APP_INSIGHTS)
    content = json.loads(props["serializedData"])
    assert content["version"] == "Notebook/1.0"
    assert content["fallbackResourceIds"] == ["<applicationInsights.id>"]
    queries = [i["content"]["query"] for i in content["items"] if i["type"] == 3]
    for instrument in (telemetry.SYNC_LAG, telemetry.GRAPH_THROTTLED, telemetry.GRAPH_REQUESTS):
        name = metric_name(instrument)
        assert any(f'name == "{name}"' in q for q in queries), f"no panel on {name}"
    assert any("Graph 429 on" in q for q in queries), "429 retries per mailbox"


# ------------------------------------------------------------------ always ready


@pytest.mark.parametrize(("count", "expected"), [(None, 1), (3, 3), (0, None)])
def test_http_always_ready_instances(count: int | None, expected: int | None) -> None:
    project = deployment() if count is None else deployment(httpAlwaysReadyInstances=count)
    scale = the_instance(project, SITE)["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    if expected is None:
        assert scale["alwaysReady"] == []
    else:
        assert scale["alwaysReady"] == [{"name": "http", "instanceCount": expected}]
        assert expected <= scale["maximumInstanceCount"]
    # The "http" group is every HTTP-triggered function: Graph's webhooks are among them.
    http = {n for n, t in functions().items() if t.type == "httpTrigger"}
    assert {"graph_notifications", "graph_lifecycle"} <= http


# ------------------------------------------------------------------ private networking


def test_private_networking_is_off_by_default() -> None:
    project = deployment()
    for rtype in NETWORK_TYPES:
        assert all_instances(project, rtype) == [], f"{rtype} deployed without privateNetworking"
    for rtype in (STORAGE_ACCOUNT, KEY_VAULT):
        props = the_instance(project, rtype)["properties"]
        assert props["publicNetworkAccess"] == "Enabled", rtype
    assert the_instance(project, SITE)["properties"]["virtualNetworkSubnetId"] is None


def test_private_networking_on() -> None:
    project = deployment(privateNetworking=True)
    for rtype in (STORAGE_ACCOUNT, KEY_VAULT):
        props = the_instance(project, rtype)["properties"]
        assert props["publicNetworkAccess"] == "Disabled", rtype
        assert props["networkAcls"]["defaultAction"] == "Deny", rtype

    vnet = the_instance(project, VNET)
    subnets = {s["name"]: s["properties"] for s in vnet["properties"]["subnets"]}
    site = the_instance(project, SITE)["properties"]
    app_subnet = site["virtualNetworkSubnetId"]
    assert isinstance(app_subnet, str) and app_subnet.startswith("<vnet.id>/subnets/")
    delegations = subnets[app_subnet.rsplit("/", 1)[-1]]["delegations"]
    # Flex Consumption's VNet integration needs its subnet delegated to this service.
    assert [d["properties"]["serviceName"] for d in delegations] == ["Microsoft.App/environments"]
    assert "publicNetworkAccess" not in site, "Graph must reach the webhooks over the internet"

    endpoints = all_instances(project, PRIVATE_ENDPOINT)
    by_group: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        (connection,) = endpoint["properties"]["privateLinkServiceConnections"]
        (group,) = connection["properties"]["groupIds"]
        by_group[group] = endpoint
        target = connection["properties"]["privateLinkServiceId"]
        zone, rtype = PRIVATE_ZONES[group]
        assert isinstance(target, Opaque) and target.path == ("id",)
        assert target.base.resource.type == rtype, f"{group} endpoint targets {target}"
        assert resolve_name(project, target.base) == the_instance(project, rtype)["name"]
        pe_subnet = endpoint["properties"]["subnet"]["id"].rsplit("/", 1)[-1]
        assert pe_subnet in subnets and pe_subnet != app_subnet.rsplit("/", 1)[-1]
    assert set(by_group) == set(PRIVATE_ZONES)

    zones = {
        resolve_name(project, ref): ref
        for ref in (ResourceRef(f, r.name, i) for f, r in project.resources(DNS_ZONE)
                    for i in range(len(project.instances(f, r))))
    }  # fmt: skip
    assert set(zones) == {zone for zone, _ in PRIVATE_ZONES.values()}
    group_of = {e["name"]: g for g, e in by_group.items()}
    registered = set()
    for zone_group in all_instances(project, ZONE_GROUP):
        endpoint_group = group_of[resolve_name(project, zone_group["parent"])]
        (config,) = zone_group["properties"]["privateDnsZoneConfigs"]
        zone_id = config["properties"]["privateDnsZoneId"]
        assert is_ref(zone_id, DNS_ZONE)
        assert resolve_name(project, zone_id.base) == PRIVATE_ZONES[endpoint_group][0]
        registered.add(endpoint_group)
    assert registered == set(PRIVATE_ZONES), "every endpoint registers its A record"
    linked = {resolve_name(project, link["parent"]) for link in all_instances(project, ZONE_LINK)}
    assert linked == set(zones), "every zone resolves from the VNet"
    for link in all_instances(project, ZONE_LINK):
        assert str(link["properties"]["virtualNetwork"]["id"]) == "<vnet.id>"
        assert link["properties"]["registrationEnabled"] is False


# ------------------------------------------------------------------ diagnostic settings


def diagnostics_by_scope(project: Project) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for setting in all_instances(project, DIAGNOSTICS):
        scope = setting["scope"]
        assert isinstance(scope, ResourceRef)
        assert is_ref(setting["properties"]["workspaceId"], LOG_ANALYTICS), "to Log Analytics"
        found[scope.resource.type] = setting["properties"]
    return found


def enabled_logs(props: dict[str, Any]) -> set[str]:
    return {
        log.get("category") or log.get("categoryGroup")
        for log in props.get("logs", [])
        if log["enabled"]
    }


def test_diagnostic_settings_send_key_vault_and_storage_logs_to_log_analytics() -> None:
    found = diagnostics_by_scope(deployment())
    assert "audit" in enabled_logs(found[KEY_VAULT]), "Key Vault AuditEvent (who read the secret)"
    for service in (BLOB_SERVICE, QUEUE_SERVICE, TABLE_SERVICE):
        logs = enabled_logs(found[service])
        assert {"StorageWrite", "StorageDelete"} <= logs, service
        assert "StorageRead" not in logs, f"{service}: reads are opt-in (queue polling volume)"
    assert any(m["enabled"] for m in found[STORAGE_ACCOUNT]["metrics"])

    with_reads = diagnostics_by_scope(deployment(storageReadLogs=True))
    for service in (BLOB_SERVICE, QUEUE_SERVICE, TABLE_SERVICE):
        assert "StorageRead" in enabled_logs(with_reads[service]), service


# ------------------------------------------------------------------ settings and API auth


def code_default(name: str) -> Any:
    section, field = SETTING_NAMES[name]
    models: dict[str, type[BaseModel]] = {
        "graph": GraphSettings,
        "sync": SyncSettings,
        "": Settings,
    }
    model = models.get(section)
    if model is None:
        return None
    info = model.model_fields[field]
    return None if info.is_required() else info.default


def test_template_defaults_match_the_codes_defaults() -> None:
    """With no parameters at all, every setting that has a default in the code gets it."""
    project = Project(main_params={"graphClientId": CLIENT_ID})
    settings = app_settings(project)
    compared = []
    for name in SETTING_NAMES:
        default = code_default(name)
        if default is None or name not in settings:
            continue
        compared.append(name)
        assert settings[name] == str(default), (
            f"{name}: template {settings[name]!r}, code {default!r}"
        )
    assert "SYNC_LEASE_SECONDS" in compared and len(compared) >= 10, compared


def test_api_auth_defaults_to_entra() -> None:
    settings = app_settings(deployment())
    assert settings["API_AUTH"] == "entra"
    assert settings["API_AUTH_ISSUER"] == (
        "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"
    )
    assert settings["API_AUTH_AUDIENCE"] == f"api://{CLIENT_ID}"
    custom = app_settings(deployment(apiAuthAudience="api://bookker-sync"))
    assert custom["API_AUTH_AUDIENCE"] == "api://bookker-sync"
    keyed = app_settings(deployment(apiAuth="key"))
    assert keyed["API_AUTH"] == "key"
    assert not {"API_AUTH_ISSUER", "API_AUTH_AUDIENCE"} & set(keyed)


def test_consent_redirect_uri() -> None:
    outputs = main_outputs(deployment())
    assert outputs["consentRedirectUri"] == f"{outputs['webhookBaseUrl']}/consent/callback"
    assert outputs["consentRedirectUri"].endswith("/api/consent/callback")


# ------------------------------------------------------------------ docs


def test_docs_cover_the_new_parameters_and_commands() -> None:
    docs = DOCS.read_text()
    for parameter in (
        "httpAlwaysReadyInstances", "privateNetworking", "actionGroupId", "alertEmails",
        "apiAuth", "blobRoleScope", "webhookP99ThresholdMs",
    ):  # fmt: skip
        assert f"`{parameter}`" in docs, f"docs/deploy.md doesn't document {parameter}"
    for role in ("Storage Table Data Contributor", "Storage Queue Data Contributor"):
        assert re.search(rf'az role assignment create [^`]*--role "{role}"', docs), role
    assert "/api/consent/callback" in docs
    stale = re.findall(r"(?i)redirect[ _]ur[il][^\n]*api/health", docs)
    assert not stale, f"the consent redirect must not be the health page: {stale}"


def test_docs_status_url_uses_no_master_key() -> None:
    docs = DOCS.read_text()
    assert "masterKey" not in docs and "--key-type masterKey" not in docs
    assert "status?code=$KEY" not in docs, "a host key opens every function: use status's own key"
    assert "status_page" in functions(), "the status function's name, as docs/deploy.md uses it"
    assert "--function-name status_page" in docs

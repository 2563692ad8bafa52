"""The Bicep templates against the code: settings, queues, tables, secrets, roles, hardening.

The templates are evaluated statically (tests/infra/bicep_model.py) with the parameters of
infra/main.parameters.json, as `az deployment group create -p infra/main.parameters.json`
would deploy them, so a check sees the values Azure would get, conditions and loops
included. Names come from the code's own constants (SETTING_NAMES, APP_QUEUES, APP_TABLES),
never from a copy of today's lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from bookker_sync.settings import (
    REQUIRED_SETTING_NAMES,
    RUNTIME_SETTING_NAMES,
    SETTING_NAMES,
    load_settings,
)
from bookker_sync.storage.queues import APP_QUEUES, poison_queue
from bookker_sync.storage.repositories import APP_TABLES
from tests.infra.bicep_model import (
    GUID,
    INFRA,
    REPO,
    BicepFile,
    Env,
    Opaque,
    Project,
    ResourceRef,
    kids,
    location,
    object_get,
    text,
)

PARAMETERS_FILE = INFRA / "main.parameters.json"
HOST_JSON = REPO / "host.json"

CLIENT_ID = "8a1f5c9e-2b7d-4e6a-9c3f-0d1e2f3a4b5c"
# Passed as the Graph client secret; must end up in Key Vault and nowhere else.
SENTINEL_SECRET = "sentinel-8Q~do-not-leak-this-value-anywhere"
CERTIFICATE_PATH = "/home/site/wwwroot/graph.pem"

# Settings in SETTING_NAMES that the Azure deployment must NOT set, and why.
NOT_SET_IN_AZURE: dict[str, str] = {
    # The connection-string variant (Azurite locally, or an account key). In Azure the
    # account has shared-key access disabled; the identity-based AzureWebJobsStorage__*
    # settings are used instead, and a connection string would take precedence over them.
    "AzureWebJobsStorage": "connection string; Azure uses managed identity",
    # Only for a user-assigned identity; the template uses the system-assigned one.
    "AzureWebJobsStorage__clientId": "user-assigned identity only",
    # Local only: makes the app trust the Graph emulator's self-made CA.
    "GRAPH_CA_BUNDLE": "local Graph emulator only",
    # Local only: event pushes to http://127.0.0.1 / http://localhost.
    "EVENTS_ALLOW_LOCAL_HTTP": "local stack only",
}

# Credential material by GRAPH_CREDENTIAL mode: set in that mode, never in the others.
# managedIdentity needs none (the Function App's identity signs a client assertion).
CREDENTIAL_SETTINGS: dict[str, set[str]] = {
    "secret": {"GRAPH_CLIENT_SECRET"},
    "certificate": {"GRAPH_CERTIFICATE_PATH", "GRAPH_CERTIFICATE"},  # one of the two
    "managedIdentity": set(),
}
MODES = list(CREDENTIAL_SETTINGS)

# Runtime settings the Flex Consumption plan takes from the site resource instead of an
# app setting (FUNCTIONS_WORKER_RUNTIME is among the Flex Consumption deprecations).
RUNTIME_FROM_SITE_CONFIG: dict[str, tuple[tuple[str, ...], str]] = {
    "FUNCTIONS_WORKER_RUNTIME": (("properties", "functionAppConfig", "runtime", "name"), "python"),
}

# Settings the platform reads that the app doesn't (host storage, telemetry).
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__blobServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}


# Built-in Azure role definition ids.
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KV_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
# Far more than the app needs; never granted to its identity.
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    KV_SECRETS_OFFICER: "Key Vault Secrets Officer",
}

STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
KEY_VAULT = "Microsoft.KeyVault/vaults"
SITE = "Microsoft.Web/sites"
APP_INSIGHTS = "Microsoft.Insights/components"
QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues"
TABLE = "Microsoft.Storage/storageAccounts/tableServices/tables"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
VAULT_SECRET = "Microsoft.KeyVault/vaults/secrets"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
STORAGE_DATA_ROLES = (BLOB_DATA_OWNER, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR)

# Parameter names that carry secret material (and names that merely point at it).
SECRET_NAME = re.compile(r"secret|password|passphrase|pfx|privatekey|certificate", re.I)
NOT_SECRET_SUFFIX = re.compile(r"(Name|Names|Uri|Url|Id|Path|Type)$")
# A versionless reference to a secret of the template's vault (the model renders the vault's
# deployment-time URI as <vault.properties.vaultUri>).
KEY_VAULT_REFERENCE = re.compile(
    r"@Microsoft\.KeyVault\(SecretUri=<vault\.properties\.vaultUri>secrets/([^/)]+)\)"
)
# Shape of an Entra ID client secret value (…8Q~…).
ENTRA_SECRET = re.compile(r"[A-Za-z0-9_.\-]{3}\dQ~[A-Za-z0-9_.\-~]{30,}")


# ------------------------------------------------------------------ helpers


def parameters_file() -> dict[str, Any]:
    params: dict[str, Any] = json.loads(PARAMETERS_FILE.read_text())["parameters"]
    return params


def deployment(**overrides: Any) -> Project:
    """The template as main.parameters.json deploys it, with a real-looking client id."""
    values = {name: spec["value"] for name, spec in parameters_file().items() if "value" in spec}
    values["graphClientId"] = CLIENT_ID
    values.update(overrides)
    return Project(main_params=values)


def secret_deployment(**overrides: Any) -> Project:
    return deployment(graphClientSecret=SENTINEL_SECRET, **overrides)


def mode_deployment(mode: str) -> Project:
    if mode == "secret":
        return secret_deployment()
    if mode == "certificate":
        return certificate_deployment()
    return deployment(graphCredential=mode)


def certificate_deployment(**overrides: Any) -> Project:
    return deployment(
        graphCredential="certificate", graphCertificatePath=CERTIFICATE_PATH, **overrides
    )


def the_instance(project: Project, rtype: str) -> dict[str, Any]:
    file, resource = project.the_resource(rtype)
    assert resource.condition is None and resource.loop is None, f"{rtype} is conditional"
    (body,) = project.instances(file, resource)
    return body


def all_instances(project: Project, rtype: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for file, resource in project.resources(rtype):
        if not resource.existing:
            out.extend(project.instances(file, resource))
    return out


def app_settings(project: Project) -> dict[str, Any]:
    site = the_instance(project, SITE)
    pairs = site["properties"]["siteConfig"]["appSettings"]
    names = [pair["name"] for pair in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"app settings set twice: {duplicates}"
    return {pair["name"]: pair["value"] for pair in pairs}


def as_environment(settings: dict[str, Any]) -> dict[str, str]:
    """What the app sees: Opaque deployment-time values as placeholder strings."""
    env: dict[str, str] = {}
    for name, value in settings.items():
        assert isinstance(value, (str, Opaque)), f"app setting {name} is not a string: {value!r}"
        env[name] = str(value)
    return env


def dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def resolve_name(project: Project, ref: Any) -> str:
    assert isinstance(ref, ResourceRef), f"expected a resource reference, got {ref!r}"
    name = project.resource_name(ref)
    assert isinstance(name, str), f"{ref!r}: name {name!r}"
    return name


def account_of(project: Project, ref: Any) -> str:
    """Walk `parent:` references up to the storage account; its name."""
    while isinstance(ref, ResourceRef) and ref.resource.type != STORAGE_ACCOUNT:
        parent = object_get(ref.resource.body, "parent")
        assert parent is not None, f"{ref.name} has no parent"
        ref = project.eval(parent, Env(ref.file))
    return resolve_name(project, ref)


def scope_name(project: Project, ref: ResourceRef) -> str:
    """A scope's name; a blob container's as <account>/<container>."""
    if ref.resource.type == CONTAINER:
        return f"{account_of(project, ref)}/{resolve_name(project, ref)}"
    return resolve_name(project, ref)


def main_outputs(project: Project) -> dict[str, Any]:
    return {
        name: project.eval(node, Env(project.main)) for name, node in project.main.outputs.items()
    }


def host_route_prefix() -> str:
    prefix: str = json.loads(HOST_JSON.read_text())["extensions"]["http"]["routePrefix"]
    return prefix


def all_files(project: Project) -> list[BicepFile]:
    return list(project.files.values())


# ------------------------------------------------------------------ app settings


def test_allow_lists_name_real_settings() -> None:
    """A renamed setting must not hide behind a stale allow-list entry."""
    for name in (*NOT_SET_IN_AZURE, *set().union(*CREDENTIAL_SETTINGS.values())):
        assert name in SETTING_NAMES, f"{name} is no longer in SETTING_NAMES"
    for name in RUNTIME_FROM_SITE_CONFIG:
        assert name in RUNTIME_SETTING_NAMES


@pytest.mark.parametrize("mode", MODES)
def test_every_setting_the_app_reads_is_set(mode: str) -> None:
    project = mode_deployment(mode)
    settings = app_settings(project)
    other_modes = set().union(*(v for k, v in CREDENTIAL_SETTINGS.items() if k != mode))
    expected = (
        set(SETTING_NAMES) - set(NOT_SET_IN_AZURE) - (other_modes - CREDENTIAL_SETTINGS[mode])
        | set(RUNTIME_SETTING_NAMES) - set(RUNTIME_FROM_SITE_CONFIG)
        | set(REQUIRED_SETTING_NAMES)
    )
    if mode == "certificate":  # the file's path, or the certificate itself (Key Vault)
        given = CREDENTIAL_SETTINGS[mode] & set(settings)
        assert len(given) == 1, f"certificate mode sets one of the two, not {sorted(given)}"
        expected -= CREDENTIAL_SETTINGS[mode]
    missing = sorted(expected - set(settings))
    assert not missing, f"app settings missing from the Function App ({mode} mode): {missing}"
    for name in REQUIRED_SETTING_NAMES:
        assert str(settings[name]).strip(), f"required setting {name} is empty"
    assert settings["GRAPH_CREDENTIAL"] == mode


def test_certificate_mode_without_a_path_reads_the_certificate_from_key_vault() -> None:
    settings = app_settings(deployment(graphCredential="certificate"))
    assert "GRAPH_CERTIFICATE_PATH" not in settings
    reference = str(settings["GRAPH_CERTIFICATE"])
    assert reference.startswith("@Microsoft.KeyVault(SecretUri=")
    assert reference.endswith("secrets/graph-client-certificate)")


@pytest.mark.parametrize("mode", MODES)
def test_settings_the_azure_deployment_must_not_set(mode: str) -> None:
    project = mode_deployment(mode)
    settings = app_settings(project)
    unwanted = set(NOT_SET_IN_AZURE) | set(RUNTIME_FROM_SITE_CONFIG)
    unwanted |= set().union(*CREDENTIAL_SETTINGS.values()) - CREDENTIAL_SETTINGS[mode]
    assert not unwanted & set(settings), f"set but must not be: {sorted(unwanted & set(settings))}"


def test_no_unknown_settings() -> None:
    """Every app setting is one the app, the runtime or the platform reads (catches typos)."""
    for project in map(mode_deployment, MODES):
        known = (
            set(SETTING_NAMES) | set(RUNTIME_SETTING_NAMES) | PLATFORM_SETTINGS
        )  # fmt: skip
        unknown = sorted(set(app_settings(project)) - known)
        assert not unknown, f"app settings nothing reads: {unknown}"


@pytest.mark.parametrize("mode", MODES)
def test_the_app_accepts_the_deployed_settings(mode: str) -> None:
    """settings.load_settings() on exactly what the Function App gets: no SettingsError."""
    project = mode_deployment(mode)
    env = as_environment(app_settings(project))
    settings = load_settings(env)
    assert settings.storage.uses_identity
    assert settings.graph.client_id == CLIENT_ID
    assert settings.graph.credential == mode
    assert settings.webhook_base_url.startswith("https://")


def test_worker_runtime_comes_from_function_app_config() -> None:
    site = the_instance(deployment(), SITE)
    for name, (path, value) in RUNTIME_FROM_SITE_CONFIG.items():
        assert dig(site, path) == value, f"{name}: {'.'.join(path)} must be {value!r}"
    version = dig(site, ("properties", "functionAppConfig", "runtime", "version"))
    assert version == "3.11", "the app is built and tested for Python 3.11"


def test_timer_schedules_are_valid_ncrontab() -> None:
    settings = app_settings(deployment())
    for name in ("RECONCILE_SCHEDULE", "RENEW_SCHEDULE"):
        assert name in RUNTIME_SETTING_NAMES
        expression = settings[name]
        assert len(expression.split()) == 6, f"{name}: NCRONTAB has 6 fields (with seconds)"
        assert croniter.is_valid(expression, second_at_beginning=True), f"{name}: {expression}"


def test_storage_is_identity_based_and_points_at_the_app_account() -> None:
    project = deployment()
    settings = app_settings(project)
    account = the_instance(project, STORAGE_ACCOUNT)
    assert settings["AzureWebJobsStorage__accountName"] == account["name"]
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    for service in ("blob", "queue", "table"):
        uri = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert isinstance(uri, Opaque), f"{service} service URI should come from the account"
        assert uri.base.resource.type == STORAGE_ACCOUNT
        assert uri.path == ("properties", "primaryEndpoints", service)
        assert resolve_name(project, uri.base) == account["name"]


def test_webhook_urls() -> None:
    project = deployment()
    settings = app_settings(project)
    site = the_instance(project, SITE)
    expected = f"https://{site['name']}.azurewebsites.net/{host_route_prefix()}"
    assert settings["WEBHOOK_BASE_URL"] == expected
    app = load_settings(as_environment(settings))
    outputs = main_outputs(project)
    assert outputs["notificationUrl"] == app.notification_url == f"{expected}/graph/notifications"
    assert outputs["lifecycleUrl"] == app.lifecycle_url == f"{expected}/graph/lifecycle"

    custom = deployment(webhookBaseUrl="https://sync.example.com/api")
    assert app_settings(custom)["WEBHOOK_BASE_URL"] == "https://sync.example.com/api"
    assert custom.eval(custom.main.outputs["notificationUrl"], Env(custom.main)) == (
        "https://sync.example.com/api/graph/notifications"
    )


def test_outputs() -> None:
    project = deployment()
    outputs = main_outputs(project)
    assert outputs["functionAppName"] == the_instance(project, SITE)["name"]
    assert outputs["storageAccountName"] == the_instance(project, STORAGE_ACCOUNT)["name"]
    assert outputs["keyVaultName"] == the_instance(project, KEY_VAULT)["name"]
    for name in ("notificationUrl", "lifecycleUrl"):
        assert str(outputs[name]).startswith("https://")


# ------------------------------------------------------------------ queues and tables


def test_every_queue_and_its_poison_queue_is_declared() -> None:
    project = deployment()
    account = the_instance(project, STORAGE_ACCOUNT)["name"]
    declared: dict[str, str] = {}
    for file, resource in project.resources(QUEUE):
        for queue in project.instances(file, resource):
            declared[queue["name"]] = account_of(project, queue["parent"])
    expected = {q for name in APP_QUEUES for q in (name, poison_queue(name))}
    missing = sorted(expected - set(declared))
    assert not missing, f"queues the code uses but infra/ doesn't declare: {missing}"
    assert {declared[q] for q in expected} == {account}, "queues belong in the app's account"


def test_every_table_is_declared() -> None:
    project = deployment()
    account = the_instance(project, STORAGE_ACCOUNT)["name"]
    declared: dict[str, str] = {}
    for file, resource in project.resources(TABLE):
        for table in project.instances(file, resource):
            declared[table["name"]] = account_of(project, table["parent"])
    missing = sorted(set(APP_TABLES) - set(declared))
    assert not missing, f"tables the code uses but infra/ doesn't declare: {missing}"
    assert {declared[t] for t in APP_TABLES} == {account}


# ------------------------------------------------------------------ secrets


def test_graph_client_secret_is_a_key_vault_reference() -> None:
    project = secret_deployment()
    value = app_settings(project)["GRAPH_CLIENT_SECRET"]
    match = KEY_VAULT_REFERENCE.fullmatch(value)
    assert match, f"GRAPH_CLIENT_SECRET must be a versionless Key Vault reference, got {value!r}"
    (secret,) = all_instances(project, VAULT_SECRET)
    assert secret["name"] == match.group(1), "the reference names the secret the template writes"
    assert secret["properties"]["value"] == SENTINEL_SECRET
    vault = the_instance(project, KEY_VAULT)
    assert resolve_name(project, secret["parent"]) == vault["name"]


def test_a_redeployment_without_the_secret_keeps_the_vaults_value() -> None:
    """No secret passed (later deployments, rotation done with `az keyvault secret set`)."""
    project = deployment()
    assert all_instances(project, VAULT_SECRET) == []
    assert app_settings(project)["GRAPH_CLIENT_SECRET"].startswith("@Microsoft.KeyVault(")


def test_the_secret_value_reaches_nothing_but_the_vault() -> None:
    project = secret_deployment()
    settings = app_settings(project)
    leaks = [name for name, value in settings.items() if SENTINEL_SECRET in str(value)]
    assert not leaks, f"the Graph secret is inline in app settings: {leaks}"
    for name, node in project.main.outputs.items():
        assert SENTINEL_SECRET not in str(project.eval(node, Env(project.main))), f"output {name}"


APP_KEY = "sentinel-app-secret-key-0123456789abcdef0123456789"


def test_app_secret_key_is_a_key_vault_reference_and_its_value_stays_in_the_vault() -> None:
    project = deployment(appSecretKey=APP_KEY)
    settings = app_settings(project)
    match = KEY_VAULT_REFERENCE.fullmatch(settings["APP_SECRET_KEY"])
    assert match, settings["APP_SECRET_KEY"]
    written = {s["name"]: s for s in all_instances(project, VAULT_SECRET)}
    assert written[match.group(1)]["properties"]["value"] == APP_KEY
    assert not [name for name, value in settings.items() if APP_KEY in str(value)]
    # Later deployments leave it out: the vault keeps its value, the reference stays.
    later = deployment()
    assert all_instances(later, VAULT_SECRET) == []
    assert app_settings(later)["APP_SECRET_KEY"] == settings["APP_SECRET_KEY"]


def test_the_host_refuses_large_bodies_before_the_app_reads_them() -> None:
    settings = app_settings(deployment())
    assert settings["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == str(4 * 1024 * 1024)


def test_certificate_mode() -> None:
    settings = app_settings(certificate_deployment())
    assert settings["GRAPH_CREDENTIAL"] == "certificate"
    assert settings["GRAPH_CERTIFICATE_PATH"] == CERTIFICATE_PATH
    assert "GRAPH_CLIENT_SECRET" not in settings


def test_managed_identity_mode_needs_no_secret() -> None:
    project = deployment(graphCredential="managedIdentity")
    settings = app_settings(project)
    assert not {"GRAPH_CLIENT_SECRET", "GRAPH_CERTIFICATE_PATH"} & set(settings)
    principal = main_outputs(project)["functionAppPrincipalId"]
    assert isinstance(principal, Opaque) and principal.base.resource.type == SITE
    assert principal.path == ("identity", "principalId")


def test_parameters_holding_secrets_are_secure() -> None:
    for file in all_files(deployment()):
        for param in file.params.values():
            looks_secret = SECRET_NAME.search(param.name) and not NOT_SECRET_SUFFIX.search(
                param.name
            )
            where = location(file, param.node)
            if looks_secret:
                assert param.secure, f"{where}: parameter {param.name} must be @secure()"
            if param.secure and param.default is not None:
                assert text(param.default) == "''", f"{where}: @secure() {param.name} has a default"


def test_the_vault_secret_value_is_a_secure_parameter() -> None:
    """No literal: the Key Vault secret's value is a @secure() parameter of its module."""
    project = deployment()
    for file, resource in project.resources(VAULT_SECRET):
        properties = object_get(resource.body, "properties")
        assert properties is not None
        value = object_get(properties, "value")
        assert value is not None and value.type == "identifier", location(file, resource.node)
        assert file.params[text(value)].secure


def test_parameters_file_holds_no_secret_values() -> None:
    main = deployment().main
    for name, spec in parameters_file().items():
        assert name in main.params, f"main.parameters.json: main.bicep has no parameter {name}"
        param = main.params[name]
        if param.secure or (SECRET_NAME.search(name) and not NOT_SECRET_SUFFIX.search(name)):
            assert "value" not in spec, f"main.parameters.json holds a value for secret {name}"
        value = spec.get("value")
        kind = {"string": str, "int": int, "bool": bool, "object": dict, "array": list}
        assert isinstance(value, kind[param.type_name]), f"{name}: not a {param.type_name}"
        assert not ENTRA_SECRET.search(json.dumps(value)), f"{name} looks like a client secret"


def test_no_secret_material_in_any_template() -> None:
    for file in all_files(deployment()):
        source = file.path.read_text()
        assert not ENTRA_SECRET.search(source), f"{file.path.name}: a client secret literal"
        for marker in ("AccountKey=", "SharedAccessSignature=", "listKeys(", "listKeys ("):
            assert marker not in source, f"{file.path.name}: key-based access ({marker})"


# ------------------------------------------------------------------ roles


def role_assignments(project: Project) -> list[tuple[BicepFile, Any, dict[str, Any]]]:
    found = []
    for file, resource in project.resources(ROLE_ASSIGNMENT):
        for body in project.instances(file, resource):
            found.append((file, resource, body))
    return found


def app_principal_grants(project: Project) -> set[tuple[str, str, str]]:
    """(role id, scope resource type, scope name) granted to the Function App's identity."""
    grants: set[tuple[str, str, str]] = set()
    for file, resource, body in role_assignments(project):
        where = location(file, resource.node)
        scope = body.get("scope")
        assert isinstance(scope, ResourceRef), f"{where}: scope it to one resource, not {scope!r}"
        role = body["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
        assert GUID.match(role), f"{where}: role definition {role!r}"
        principal = body["properties"]["principalId"]
        if (
            isinstance(principal, Opaque)
            and principal.base.resource.type == SITE
            and principal.path == ("identity", "principalId")
        ):
            assert body["properties"]["principalType"] == "ServicePrincipal", where
            assert role not in BROAD_ROLES, f"{where}: app identity gets {BROAD_ROLES[role]}"
            grants.add((role, scope.resource.type, scope_name(project, scope)))
    return grants


def deployment_container(project: Project) -> str:
    """<account>/<container> of the container Flex Consumption deploys from (site config)."""
    site = the_instance(project, SITE)
    url = site["properties"]["functionAppConfig"]["deployment"]["storage"]["value"]
    prefix = "<storage.properties.primaryEndpoints.blob>"
    assert url.startswith(prefix), url
    return f"{the_instance(project, STORAGE_ACCOUNT)['name']}/{url.removeprefix(prefix)}"


# The Functions host's blob containers: timer singleton locks and host id lease; keys.
HOST_CONTAINERS = ("azure-webjobs-hosts", "azure-webjobs-secrets")


@pytest.mark.parametrize("blob_scope", ["containers", "account"])
def test_role_assignments_cover_what_the_app_does(blob_scope: str) -> None:
    project = deployment(blobRoleScope=blob_scope)
    account = the_instance(project, STORAGE_ACCOUNT)["name"]
    vault = the_instance(project, KEY_VAULT)["name"]
    blob = (
        {
            (BLOB_DATA_OWNER, CONTAINER, deployment_container(project)): "deployment package",
            **{
                (BLOB_DATA_OWNER, CONTAINER, f"{account}/{c}"): "host storage"
                for c in HOST_CONTAINERS
            },
        }
        if blob_scope == "containers"
        else {(BLOB_DATA_OWNER, STORAGE_ACCOUNT, account): "host storage, deployment package"}
    )
    required = {
        **blob,
        (QUEUE_DATA_CONTRIBUTOR, STORAGE_ACCOUNT, account): "queue triggers, enqueueing",
        (TABLE_DATA_CONTRIBUTOR, STORAGE_ACCOUNT, account): "the app's tables",
        (KV_SECRETS_USER, KEY_VAULT, vault): "Key Vault references",
    }
    grants = app_principal_grants(project)
    missing = {need: why for need, why in required.items() if need not in grants}
    assert not missing, f"role assignments missing for the app's identity: {missing}"


def test_blob_role_is_scoped_to_containers_by_default() -> None:
    """Least privilege: no blob data role on the whole account unless asked for."""
    project = deployment()
    blob_grants = {g for g in app_principal_grants(project) if g[0] == BLOB_DATA_OWNER}
    assert blob_grants and all(g[1] == CONTAINER for g in blob_grants), blob_grants
    declared = {
        f"{account_of(project, c['parent'])}/{c['name']}" for c in all_instances(project, CONTAINER)
    }
    assert {g[2] for g in blob_grants} <= declared, "the role's containers are deployed"


def test_required_role_assignments_are_unconditional() -> None:
    project = deployment()
    for file, resource, body in role_assignments(project):
        role = body["properties"]["roleDefinitionId"].rsplit("/", 1)[-1]
        if role in (QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR, KV_SECRETS_USER):
            assert resource.condition is None, f"{location(file, resource.node)} is conditional"


def test_entra_auth_telemetry_has_its_role() -> None:
    on = deployment(applicationInsightsEntraAuth=True)
    assert app_settings(on)["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    assert any(g[0] == METRICS_PUBLISHER and g[1] == APP_INSIGHTS for g in app_principal_grants(on))
    assert the_instance(on, APP_INSIGHTS)["properties"]["DisableLocalAuth"] is True

    off = deployment(applicationInsightsEntraAuth=False)
    assert "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" not in app_settings(off)
    assert not any(g[0] == METRICS_PUBLISHER for g in app_principal_grants(off))
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in app_settings(off)


def test_secrets_officer_is_optional_and_scoped_to_the_vault() -> None:
    assert not [b for *_, b in role_assignments(deployment()) if KV_SECRETS_OFFICER in str(b)]
    operator = "0f0e0d0c-0b0a-0908-0706-050403020100"
    project = deployment(secretsOfficerPrincipalId=operator)
    officers = [
        body
        for *_, body in role_assignments(project)
        if body["properties"]["roleDefinitionId"].endswith(KV_SECRETS_OFFICER)
    ]
    assert len(officers) == 1 and officers[0]["properties"]["principalId"] == operator
    assert officers[0]["scope"].resource.type == KEY_VAULT


# ------------------------------------------------------------------ hardening


def test_storage_account_hardening() -> None:
    account = the_instance(deployment(), STORAGE_ACCOUNT)
    props = account["properties"]
    assert account["kind"] == "StorageV2"
    assert props["allowSharedKeyAccess"] is False, "the app uses managed identity everywhere"
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    assert props["supportsHttpsTrafficOnly"] is True


def test_function_app_hardening() -> None:
    project = deployment()
    site = the_instance(project, SITE)
    props = site["properties"]
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "SystemAssigned"
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    policies = {
        body["name"]: body
        for body in all_instances(project, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }
    for name in ("ftp", "scm"):
        assert name in policies, f"basic publishing credentials policy {name} missing"
        assert policies[name]["properties"]["allow"] is False
        assert resolve_name(project, policies[name]["parent"]) == site["name"]


def test_flex_consumption_plan_and_deployment_storage() -> None:
    project = deployment()
    plan = the_instance(project, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    assert plan["properties"]["reserved"] is True, "Linux"
    site = the_instance(project, SITE)
    farm = site["properties"]["serverFarmId"]
    assert isinstance(farm, Opaque) and farm.base.resource.type == "Microsoft.Web/serverfarms"
    config = site["properties"]["functionAppConfig"]
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "SystemAssignedIdentity"
    containers = all_instances(project, CONTAINER)
    assert all(c["properties"]["publicAccess"] == "None" for c in containers)
    account = the_instance(project, STORAGE_ACCOUNT)["name"]
    named = [c for c in containers if f"{account}/{c['name']}" == deployment_container(project)]
    assert len(named) == 1, "the deployment container is declared in the app's account"
    assert account_of(project, named[0]["parent"]) == account
    scale = config["scaleAndConcurrency"]
    assert scale["instanceMemoryMB"] in (512, 2048, 4096)
    assert 1 <= scale["maximumInstanceCount"] <= 1000


def test_key_vault_hardening() -> None:
    vault = the_instance(deployment(), KEY_VAULT)["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert "accessPolicies" not in vault, "RBAC mode: no access policies"


def test_the_model_really_reads_the_templates(tmp_path: Path) -> None:
    """Guard against a vacuous model: a changed value in a copy of infra/ is seen."""
    copy = tmp_path / "infra"
    for path in INFRA.rglob("*.bicep"):
        target = copy / path.relative_to(INFRA)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    storage = copy / "modules" / "storage.bicep"
    source = storage.read_text()
    assert "allowSharedKeyAccess: false" in source
    storage.write_text(source.replace("allowSharedKeyAccess: false", "allowSharedKeyAccess: true"))
    values = {"graphClientId": CLIENT_ID}
    project = Project(main=copy / "main.bicep", main_params=values)
    assert the_instance(project, STORAGE_ACCOUNT)["properties"]["allowSharedKeyAccess"] is True
    assert kids(project.main.tree.root_node), "parsed something"


def violations(project: Project, name: str, value: Any) -> list[str]:
    """Which of main.bicep's @allowed/@minValue/@maxValue/@minLength/@maxLength `value` breaks."""
    param = project.main.params[name]
    env = Env(project.main)
    found: list[str] = []
    for decorator, args in param.decorators.items():
        if decorator not in ("allowed", "minValue", "maxValue", "minLength", "maxLength"):
            continue
        limit: Any = project.eval(args[0], env)
        if decorator == "allowed" and value not in limit:
            found.append(f"not one of {limit}")
        elif decorator == "minValue" and value < limit:
            found.append(f"below {limit}")
        elif decorator == "maxValue" and value > limit:
            found.append(f"above {limit}")
        elif decorator == "minLength" and len(value) < limit:
            found.append(f"shorter than {limit}")
        elif decorator == "maxLength" and len(value) > limit:
            found.append(f"longer than {limit}")
    return found


def test_parameters_file_values_pass_the_templates_constraints() -> None:
    project = deployment()
    for name, spec in parameters_file().items():
        if name == "graphClientId":
            continue  # a placeholder on purpose, see below
        assert not violations(project, name, spec["value"]), f"main.parameters.json: {name}"


def test_the_client_id_placeholder_cannot_be_deployed() -> None:
    """Forgetting to fill in graphClientId fails validation instead of deploying a dud."""
    project = deployment()
    placeholder = parameters_file()["graphClientId"]["value"]
    assert violations(project, "graphClientId", placeholder)
    assert not violations(project, "graphClientId", CLIENT_ID)

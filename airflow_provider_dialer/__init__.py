"""airflow-provider-dialer: load leads into outbound dialers and launch campaigns from Airflow.

This module is imported by Airflow's provider discovery at every CLI call and DAG parse, so it
imports nothing: ``get_provider_info()`` returns plain data.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

PACKAGE = "airflow_provider_dialer"


def _transport_fields(*, verify_help: str = "", rate_default: float | None = None) -> dict[str, Any]:
    """The extra fields every dialer connection has: TLS, timeouts, retries, rate limit."""
    rate_schema: dict[str, Any] = {"type": ["number", "null"], "minimum": 0}
    if rate_default is not None:
        rate_schema["default"] = rate_default
    return {
        "verify_ssl": {
            "label": "Verify TLS certificate",
            "description": "Turn off only for a self-signed server you trust. " + verify_help,
            "schema": {"type": "boolean", "default": True},
        },
        "ca_bundle": {
            "label": "CA bundle path",
            "description": "Path to a PEM file with the CA that signed the server certificate (self-hosted servers).",
            "schema": {"type": ["string", "null"]},
        },
        "allow_insecure_http": {
            "label": "Allow plain http to a non-loopback host",
            "description": "Plain http is refused except to 127.0.0.1/localhost unless this is on.",
            "schema": {"type": "boolean", "default": False},
        },
        "connect_timeout": {
            "label": "Connect timeout (s)",
            "schema": {"type": "number", "default": 10, "minimum": 0},
        },
        "read_timeout": {
            "label": "Read timeout (s)",
            "schema": {"type": "number", "default": 60, "minimum": 0},
        },
        "max_attempts": {
            "label": "Max attempts per request",
            "description": "Retries apply to connect errors, 429 and 503 (any request) and 502/504 (reads).",
            "schema": {"type": "integer", "default": 5, "minimum": 1, "maximum": 20},
        },
        "retry_max_seconds": {
            "label": "Retry time budget (s)",
            "description": "Total time one request may spend waiting for retries, Retry-After included.",
            "schema": {"type": "number", "default": 120, "minimum": 0},
        },
        "rate_limit_per_second": {
            "label": "Client-side rate limit (requests/s)",
            "description": "Empty or 0 turns it off.",
            "schema": rate_schema,
        },
    }


def _link_fields(*, campaign: str | None, lst: str) -> dict[str, Any]:
    """The extra fields holding the URL templates of the task links (campaign and list pages in the vendor's UI).

    :param campaign: the placeholders a campaign link may name on this vendor, or None (no campaigns).
    :param lst: the placeholders a list link may name on this vendor.
    """
    note = (
        " {origin} is the connection's scheme://host[:port]. Copy the page's address from your browser"
        " and put placeholders where the ids are. Empty: no link. User names, passwords and"
        " credential-named query parameters are removed from the link."
    )
    fields = {
        "list_link_template": {
            "label": "List link (URL template)",
            "description": f"Address of a list in the dialer's web UI, the task's 'Dialer list' link. Placeholders: {lst}."
            + note,
            "schema": {"type": ["string", "null"]},
        },
    }
    if campaign:
        fields["campaign_link_template"] = {
            "label": "Campaign link (URL template)",
            "description": f"Address of a campaign in the dialer's web UI, the task's 'Dialer campaign' link. "
            f"Placeholders: {campaign}." + note,
            "schema": {"type": ["string", "null"]},
        }
    return fields


def _for_the_form(entry: dict[str, Any]) -> dict[str, Any]:
    """Adapt one connection type to what the 3.3 connection form does with it.

    - The form shows ``placeholders`` for the standard fields only: an example meant for an extra
      field moves to the end of that field's description, where the form shows it.
    - The form marks every extra whose JSON schema does not allow null as required (a red
      asterisk) although an empty field means "the default": every extra's type allows null, and
      the hooks read null as the default.
    """
    placeholders = entry["ui-field-behaviour"]["placeholders"]
    # The connection list's Test button posts an empty Port as 0, and Airflow's test endpoint then
    # answers a bare "Bad Request" ("The host or port to test differs from the stored connection")
    # for a connection stored without a port. With the port filled in (443 for https) it tests.
    entry["ui-field-behaviour"]["relabeling"].setdefault("port", "Port (fill in: the Test button needs it)")
    placeholders.setdefault("port", "443")
    for name, field in entry["conn-fields"].items():
        example = placeholders.pop(name, None)
        if example:
            field["description"] = f"{field.get('description', '').rstrip()} Example: {example}".strip()
        kind = field["schema"]["type"]
        kinds = kind if isinstance(kind, list) else [kind]
        if "null" not in kinds:
            field["schema"]["type"] = [*kinds, "null"]
    return entry


def _connection_types() -> list[dict[str, Any]]:
    return [_for_the_form(entry) for entry in _declared_connection_types()]


def _declared_connection_types() -> list[dict[str, Any]]:
    """One entry per line of the hook registry, in its order, with the hook class it names.

    A connection type with no form here gets the fields every dialer connection has, so a new
    vendor is usable from its registry line alone; its labels and own fields belong here.
    """
    # the registry names each hook by its dotted path and imports nothing heavy
    from airflow_provider_dialer.hooks.registry import HOOKS_BY_CONN_TYPE as hooks

    forms = [
        {
            "connection-type": "ucontact",
            "hook-class-name": hooks["ucontact"],
            "hook-name": "uContact (Integra + Automation API)",
            "ui-field-behaviour": {
                "hidden-fields": [],
                "relabeling": {
                    "host": "Instance (name or URL)",
                    "schema": "Scheme",
                    "login": "Integra user (SuperUser)",
                    "password": "Integra password",
                },
                "placeholders": {
                    "host": "acme  (expands to https://acme.ucontactcloud.com)",
                    "schema": "https",
                    "login": "supervisor",
                    "list_link_template": "{origin}/<path of the hub's list page>/{hub}/{list_id}",
                },
            },
            "conn-fields": {
                "api_token": {
                    "label": "Automation API token",
                    "description": "Portal API Token (user menu > API Token), sent as Bearer to the Automation API.",
                    "schema": {"type": ["string", "null"], "format": "password"},
                },
                "integra_token": {
                    "label": "Pre-issued Integra token",
                    "description": "Optional. Used as is instead of logging in with getUserToken.",
                    "schema": {"type": ["string", "null"], "format": "password"},
                },
                "instance_timezone": {
                    "label": "Instance timezone",
                    "description": "IANA zone the instance reads DialerTask calldate in.",
                    "schema": {"type": "string", "default": "UTC"},
                },
                "probe_hub": {
                    "label": "Hub checked by the Test button",
                    "description": "Optional. With the API token set, test_connection() lists this hub's lists.",
                    "schema": {"type": ["string", "null"]},
                },
                "destination_plus": {
                    "label": "Integra numbers with +",
                    "description": "Send DialerTask destinations as +E.164 instead of digits only.",
                    "schema": {"type": "boolean", "default": False},
                },
                "list_state_path": {
                    "label": "List state path (assumed read)",
                    "description": "Path template of the list-state read; {hub} and {list_id} are filled in.",
                    "schema": {"type": "string", "default": "/api/dialer/id/{hub}/lists/{list_id}"},
                },
                **_link_fields(campaign=None, lst="{hub}, {list_id}, {list_name}, {origin}"),
                **_transport_fields(),
            },
        },
        {
            "connection-type": "xcally",
            "hook-class-name": hooks["xcally"],
            "hook-name": "XCALLY Motion",
            "ui-field-behaviour": {
                "hidden-fields": [],
                "relabeling": {
                    "host": "Server (host or URL)",
                    "schema": "Scheme",
                    "login": "User",
                    "password": "Password",
                },
                "placeholders": {
                    "host": "motion.example.com",
                    "schema": "https",
                    "login": "admin",
                    "campaign_link_template": "{origin}/<path of the campaign page>/{campaign_id}",
                    "list_link_template": "{origin}/<path of the list page>/{list_id}",
                },
            },
            "conn-fields": {
                "api_key": {
                    "label": "API key",
                    "description": "Staff > Users > Api Key Manager. When set, sent as ?apikey= instead of Basic auth.",
                    "schema": {"type": ["string", "null"], "format": "password"},
                },
                "phone_format": {
                    "label": "Phone format",
                    "description": "How phones are written to contacts: digits only (as the documents show) or +E.164.",
                    "schema": {"type": "string", "enum": ["digits", "e164"], "default": "digits"},
                },
                "first_name_fallback": {
                    "label": "First name when a lead has none",
                    "description": "Motion requires firstName; empty means the phone is used.",
                    "schema": {"type": ["string", "null"]},
                },
                **_link_fields(
                    campaign="{campaign_id}, {campaign_name}, {origin}",
                    lst="{list_id}, {list_name}, {campaign_id}, {origin}",
                ),
                **_transport_fields(
                    verify_help="Self-hosted Motion servers often use their own CA: prefer the CA bundle."
                ),
            },
        },
        {
            "connection-type": "voipex",
            "hook-class-name": hooks["voipex"],
            "hook-name": "Voipex IPBX",
            "ui-field-behaviour": {
                "hidden-fields": [],
                "relabeling": {
                    "host": "API host",
                    "schema": "Scheme",
                    "login": "API access e-mail",
                    "password": "Password",
                },
                "placeholders": {
                    "host": "ipbxapi.voipex.io",
                    "schema": "https",
                    "login": "api-user@example.com",
                    "campaign_link_template": "https://<portal host>/<path of the campaign page>/{campaign_id}",
                    "list_link_template": "https://<portal host>/<path of the call-list page>/{list_id}",
                },
            },
            "conn-fields": {
                "auth_url": {
                    "label": "Token URL",
                    "description": "OAuth2 password-grant endpoint.",
                    "schema": {"type": "string", "default": "https://auth.voipex.io/token"},
                },
                "client_id": {"label": "OAuth2 client id", "schema": {"type": "string", "default": "api"}},
                "scope": {"label": "OAuth2 scope", "schema": {"type": ["string", "null"]}},
                **_link_fields(
                    campaign="{campaign_id}, {campaign_name}, {origin}",
                    lst="{list_id} (the first call list), {list_name}, {origin}",
                ),
                **_transport_fields(),
            },
        },
        {
            "connection-type": "ujet",
            "hook-class-name": hooks["ujet"],
            "hook-name": "UJET / CCAI Platform",
            "ui-field-behaviour": {
                "hidden-fields": [],
                "relabeling": {
                    "host": "Instance (subdomain or URL)",
                    "schema": "Scheme",
                    "login": "API user (subdomain or credential name)",
                    "password": "API token",
                },
                "placeholders": {
                    "host": "acme  (expands to https://acme.uc1.ccaiplatform.com)",
                    "schema": "https",
                    "campaign_link_template": "{origin}/<path of the campaign page>/{campaign_id}",
                    "list_link_template": "{origin}/<path of the campaign page>/{campaign_id}",
                },
            },
            "conn-fields": {
                "domain": {
                    "label": "Domain",
                    "description": "Appended to a bare subdomain in the host field.",
                    "schema": {"type": "string", "default": "uc1.ccaiplatform.com"},
                },
                **_link_fields(
                    campaign="{campaign_id}, {origin}",
                    lst="{campaign_id}, {job_id} (UJET has no lists: an upload is an import job), {origin}",
                ),
                **_transport_fields(rate_default=10),
            },
        },
    ]
    by_type = {form["connection-type"]: form for form in forms}
    return [by_type.get(conn_type) or _plain_form(conn_type, path) for conn_type, path in hooks.items()]


def _plain_form(conn_type: str, hook_class: str) -> dict[str, Any]:
    """The form of a registered connection type this module has no entry for: the standard fields and the
    extras every dialer connection has (TLS, timeouts, retries, rate limit)."""
    return {
        "connection-type": conn_type,
        "hook-class-name": hook_class,
        "hook-name": conn_type,
        "ui-field-behaviour": {"hidden-fields": [], "relabeling": {}, "placeholders": {}},
        "conn-fields": _transport_fields(),
    }


def get_provider_info() -> dict[str, Any]:
    """Provider metadata for Airflow's discovery (validated against Airflow's provider-info schema)."""
    return {
        "package-name": "airflow-provider-dialer",
        "name": "Dialer",
        "description": (
            "Outbound dialers for Apache Airflow: uContact (Integra DialerTask and Automation API), "
            "XCALLY Motion, Voipex IPBX and UJET / CCAI Platform."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Dialer (vendor-neutral)",
                "external-doc-url": "https://github.com/airflow-provider-dialer/airflow-provider-dialer/tree/main/docs",
                "tags": ["service"],
            },
            {
                "integration-name": "uContact",
                "external-doc-url": "https://docs.ucontactcloud.com/",
                "tags": ["service"],
            },
            {"integration-name": "XCALLY Motion", "external-doc-url": "https://www.xcally.com/", "tags": ["service"]},
            {
                "integration-name": "Voipex IPBX",
                "external-doc-url": "https://ipexcloud.github.io/voipex-docs",
                "tags": ["service"],
            },
            {
                "integration-name": "UJET / CCAI Platform",
                "external-doc-url": "https://cloud.google.com/contact-center/ccai-platform/docs",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {"integration-name": "uContact", "python-modules": [f"{PACKAGE}.hooks.ucontact"]},
            {"integration-name": "XCALLY Motion", "python-modules": [f"{PACKAGE}.hooks.xcally"]},
            {"integration-name": "Voipex IPBX", "python-modules": [f"{PACKAGE}.hooks.voipex"]},
            {"integration-name": "UJET / CCAI Platform", "python-modules": [f"{PACKAGE}.hooks.ujet"]},
        ],
        "operators": [
            {
                "integration-name": name,
                "python-modules": [
                    f"{PACKAGE}.operators.campaign",
                    f"{PACKAGE}.operators.lists",
                    f"{PACKAGE}.operators.fresh_leads",
                    f"{PACKAGE}.operators.dialer_task",
                    f"{PACKAGE}.operators.contacts",
                    f"{PACKAGE}.operators.parts",
                ],
            }
            for name in ("Dialer (vendor-neutral)",)
        ],
        "sensors": [{"integration-name": "Dialer (vendor-neutral)", "python-modules": [f"{PACKAGE}.sensors.wait"]}],
        "triggers": [{"integration-name": "Dialer (vendor-neutral)", "python-modules": [f"{PACKAGE}.triggers.wait"]}],
        "connection-types": _connection_types(),
        "extra-links": [
            f"{PACKAGE}.links.DialerCampaignLink",
            f"{PACKAGE}.links.DialerListLink",
            f"{PACKAGE}.run_report.RunReportLink",
        ],
    }

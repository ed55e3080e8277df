"""UContactHook: one connection per uContact instance, serving both the Integra API and the Automation API (docs/vendors/ucontact.md#decision-one-connection-for-both-apis)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
from pydantic_core import to_json

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerError,
    DialerHTTPError,
    DialerRejectedError,
)
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.hooks.ucontact.verbs import UContactVerbs
from airflow_provider_dialer.hooks.ucontact.wire import (
    DialerTaskCall,
    FreshLeadsResult,
    ListInfo,
    hub_path,
    parse_user_token,
)
from airflow_provider_dialer.transport.redaction import register_secret
from airflow_provider_dialer.transport.requests import AsyncTwin, Flow, Request, api_call, json_object
from airflow_provider_dialer.transport.settings import as_bool, is_loopback

INTEGRA = "/Integra/resources"
GET_USER_TOKEN = f"{INTEGRA}/auth/getUserToken"
END_SESSION = f"{INTEGRA}/auth/EndSession"
DIALER_TASK = f"{INTEGRA}/Dialers/DialerTask"
DEFAULT_LIST_STATE_PATH = "/api/dialer/id/{hub}/lists/{list_id}"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"
#: statuses whose ``0`` body is Integra refusing the record (not an outage, not our credentials)
_REFUSAL_STATUSES = frozenset(range(400, 500)) - {401, 403, 408, 429}


def _encoded_objects(key: str, items: Iterable[Any]) -> list[bytes]:
    """Each contact of ``UploadListBody.list`` / ``FreshLeadsBody.leads`` checked to be an object and
    encoded, without a model per contact (a list holds up to 20,000 of them)."""
    encoded = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise DialerConfigError(
                f"uContact {key}[{i}] must be an object (see automation_contact), got {type(item).__name__}"
            )
        encoded.append(to_json(item))
    return encoded


def list_body(filename: str, encoded: Iterable[bytes]) -> bytes:
    """``POST …/lists`` body (``UploadListBody``): ``{"filename", "list"}`` with contacts already encoded."""
    return json_object({"filename": filename}, "list", encoded)


def fresh_leads_body(encoded: Iterable[bytes]) -> bytes:
    """``POST …/freshLeads`` body (``FreshLeadsBody``): ``{"leads"}`` with contacts already encoded."""
    return json_object({}, "leads", encoded)


class UContactHook(UContactVerbs, DialerHook):
    """uContact (net2phone): Integra ``DialerTask`` and the Automation API of outbound hubs, one instance.

    Connection: host = instance name (``acme`` -> ``https://acme.ucontactcloud.com``) or URL;
    login/password = an Integra SuperUser (``getUserToken``), or extra ``integra_token`` (used as
    is); extra ``api_token`` = the portal API Token (Bearer) for the Automation API; extra
    ``instance_timezone`` (IANA, default UTC) = the zone Integra reads ``calldate`` in; extra
    ``list_state_path`` = the assumed list-state read (docs/vendors/ucontact.md#decision-assumed-list-state-read).

    :param ucontact_conn_id: the Airflow connection id (default ``ucontact_default``).
    """

    #: async twins (made by ``api_call``) this class calls, declared for type checkers
    aend_session: AsyncTwin[[], bool]
    aget_list: AsyncTwin[[str, Any], ListInfo]

    conn_name_attr = "ucontact_conn_id"
    default_conn_name = "ucontact_default"
    conn_type = "ucontact"
    hook_name = "uContact (Integra + Automation API)"
    vendor = "uContact"
    secret_extras = ("api_token", "integra_token")
    #: links: a hub list (``list_id`` once the upload answered with it); no campaign object in these APIs
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {"list": frozenset({"hub", "list_id", "list_name"})}

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._integra_token: str | None = None
        #: True when this hook logged in with getUserToken (and so must end the session)
        self._session_opened = False

    # -- base URL ------------------------------------------------------------------------------

    def expand_host(self, host: str, extras: Mapping[str, Any]) -> str:
        """A bare instance name (no dot) becomes ``<name>.ucontactcloud.com``."""
        if "." in host or ":" in host or is_loopback(host):
            return host
        return f"{host}.ucontactcloud.com"

    # -- settings from the connection ----------------------------------------------------------

    @property
    def instance_timezone(self) -> str:
        zone = str(self.extras.get("instance_timezone") or "UTC")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(zone)
        except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd strings
            raise DialerConfigError(
                f"connection {self.conn_id!r}: instance_timezone {zone!r} is not an IANA time zone"
            ) from None
        return zone

    def _flag(self, name: str, settings: Mapping[str, Any] | None = None, default: bool = False) -> bool:
        if settings and name in settings:
            return as_bool(settings[name], default)
        return as_bool(self.extras.get(name), default)

    # -- auth ------------------------------------------------------------------------------------

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        if scheme == "automation":
            token = self.extras.get("api_token")
            if not token:
                raise DialerConfigError(
                    f"connection {self.conn_id!r} has no api_token extra; the uContact Automation API needs "
                    "the portal API Token (user menu > API Token)"
                )
            return {"Authorization": f"Bearer {token}"}
        if scheme == "integra":
            token = yield from self._integra_token_flow()
            return {"Authorization": f"Basic {token}"}
        return {}

    def _integra_token_flow(self) -> Flow[str]:
        if self._integra_token:
            return self._integra_token
        preset = self.extras.get("integra_token")
        if preset:
            self._integra_token, self._session_opened = str(preset), False
            return self._integra_token
        conn = self.connection
        if not conn.login or not conn.password:
            raise DialerConfigError(
                f"connection {self.conn_id!r}: Integra needs login and password (a SuperUser) or the "
                "integra_token extra"
            )
        token = yield from self._login_flow(conn.login, conn.password)
        self._integra_token, self._session_opened = token, True
        return token

    def _login_flow(self, user: str, password: str) -> Flow[str]:
        """``getUserToken``: the token is the last element of the JSON array; a ``0`` body means refused."""
        # a lost answer only leaves an orphan session behind, so the login may be resent
        try:
            response = yield Request(
                "POST",
                GET_USER_TOKEN,
                data={"user": user, "password": password},
                authenticated=False,
                idempotent=True,
                auth="integra",
            )
        except DialerAuthError:
            raise
        except DialerHTTPError as exc:
            # any failed login (a 5xx after every retry included) means the record was never sent:
            # an auth error stops the task (it fails and retries), it never makes records "unknown"
            raise exc.as_auth_error(
                f"getUserToken failed for connection {self.conn_id!r}, so nothing was sent; the task fails and retries"
            ) from None
        token = parse_user_token(response.text)
        if token is None:
            raise DialerAuthError(
                self.vendor,
                "POST",
                GET_USER_TOKEN,
                response.status_code,
                self.redact(response.text.strip()[:500]),
                f"getUserToken refused user {user!r} of connection {self.conn_id!r}: wrong password, "
                "or the user is not a SuperUser (supervisor without phone)",
            )
        register_secret(token)
        return token

    def invalidate_auth(self, scheme: str = "default") -> bool:
        """After a 401 on Integra: log in again once, but only when this hook logged in itself."""
        if scheme == "integra" and self._session_opened:
            self._integra_token, self._session_opened = None, False
            return True
        return False

    @api_call
    def end_session(self) -> Flow[bool]:
        """``POST auth/EndSession`` (form ``user``, ``token``) when this hook opened the session; else nothing."""
        if not self._session_opened or not self._integra_token:
            return False
        token = self._integra_token
        self._integra_token, self._session_opened = None, False
        yield self._end_session_request(self.connection.login or "", token)
        return True

    @staticmethod
    def _end_session_request(user: str, token: str) -> Request:
        return Request(
            "POST",
            END_SESSION,
            data={"user": user, "token": token},
            headers={"Authorization": f"Basic {token}"},
            authenticated=False,
            idempotent=True,
            auth="integra",
        )

    def close(self) -> None:
        """End the Integra session this hook opened, then close the HTTP client."""
        if self._session_opened:
            try:
                self.end_session()
            except DialerError as exc:
                self.log.warning("uContact EndSession failed; the session expires on its own: %s", exc)
        super().close()

    async def aclose(self) -> None:
        if self._session_opened:
            try:
                await self.aend_session()
            except DialerError as exc:
                self.log.warning("uContact EndSession failed; the session expires on its own: %s", exc)
        await super().aclose()

    # -- Integra: DialerTask ---------------------------------------------------------------------

    @api_call
    def dialer_task(self, call: DialerTaskCall | Mapping[str, Any]) -> Flow[bool]:
        """Add one record to a dialer (``POST Dialers/DialerTask``, form ``call=<json>``, docs/vendors/ucontact.md#decision-dialertask-success-is-the-text-1).

        Returns True on the plain-text answer ``1``; raises DialerRejectedError with the body on
        ``0`` or anything else.
        """
        if not isinstance(call, DialerTaskCall):
            call = DialerTaskCall.model_validate(call)
        body = urlencode({"call": call.to_json()}).encode("ascii")
        try:
            response = yield Request("POST", DIALER_TASK, content=body, headers={"Content-Type": FORM}, auth="integra")
        except DialerRejectedError:
            raise
        except DialerHTTPError as exc:
            if exc.status in _REFUSAL_STATUSES and exc.body.strip() == "0":
                raise DialerRejectedError(
                    self.vendor, "POST", DIALER_TASK, exc.status, exc.body, "DialerTask refused the record"
                ) from None
            raise
        text = response.text.strip()
        if text != "1":
            raise DialerRejectedError(
                self.vendor,
                "POST",
                DIALER_TASK,
                response.status_code,
                self.redact(text[:2000]),
                f"DialerTask answers 1 on success; check that campaign {call.campaign!r} exists and the fields",
            )
        return True

    # -- Automation API ----------------------------------------------------------------------------

    @api_call
    def upload_list(self, hub: str, filename: str, contacts: Sequence[Mapping[str, Any]]) -> Flow[ListInfo]:
        """Upload a list to a hub (``POST /api/dialer/id/<hub>/lists``); returns its id and status (docs/vendors/ucontact.md#decision-assumed-list-state-read).

        ``contacts`` are wire dicts as :func:`automation_contact` builds them. The list is
        ``loading`` until every contact is stored, then ``inactive``.
        """
        return (yield from self._upload_list_flow(hub, filename, _encoded_objects("list", contacts)))

    def _upload_list_flow(self, hub: str, filename: str, encoded: Sequence[bytes]) -> Flow[ListInfo]:
        """The upload request for contacts already encoded (``upload_list`` and the list path)."""
        if not filename:
            raise DialerConfigError("a uContact list needs a filename")
        response = yield Request(
            "POST",
            f"{hub_path(hub)}/lists",
            content=list_body(filename, encoded),
            headers={"Content-Type": "application/json"},
            auth="automation",
        )
        return self._list_info(response, filename=filename)

    @api_call
    def push_fresh_leads(self, hub: str, leads: Sequence[Mapping[str, Any]]) -> Flow[FreshLeadsResult]:
        """Push fresh leads to a hub (``POST /api/dialer/id/<hub>/freshLeads``, synchronous)."""
        return (yield from self._push_fresh_flow(hub, _encoded_objects("leads", leads)))

    def _push_fresh_flow(self, hub: str, encoded: Sequence[bytes]) -> Flow[FreshLeadsResult]:
        """The fresh-leads request for contacts already encoded (``push_fresh_leads`` and the fresh path)."""
        response = yield Request(
            "POST",
            f"{hub_path(hub)}/freshLeads",
            content=fresh_leads_body(encoded),
            headers={"Content-Type": "application/json"},
            auth="automation",
        )
        data = self._json_or_none(response)
        return FreshLeadsResult.model_validate(data) if isinstance(data, dict) else FreshLeadsResult()

    def list_state_path(self, hub: str, list_id: Any) -> str:
        template = str(self.extras.get("list_state_path") or DEFAULT_LIST_STATE_PATH)
        try:
            return template.format(hub=quote(hub, safe=""), list_id=quote(str(list_id), safe=""))
        except (KeyError, IndexError, ValueError) as exc:
            raise DialerConfigError(
                f"connection {self.conn_id!r}: list_state_path {template!r} may only use {{hub}} and {{list_id}} ({exc})"
            ) from None

    @api_call
    def get_list(self, hub: str, list_id: Any) -> Flow[ListInfo]:
        """Read one list's state (an assumed ``GET`` at the connection's ``list_state_path``, docs/vendors/ucontact.md#decision-assumed-list-state-read)."""
        response = yield Request("GET", self.list_state_path(hub, list_id), auth="automation")
        return self._list_info(response)

    @api_call
    def list_lists(self, hub: str) -> Flow[list[ListInfo]]:
        """The hub's lists (assumption: ``GET /api/dialer/id/<hub>/lists``, served by the emulator).

        Used to learn whether an upload whose answer was lost created its list (by filename).
        """
        response = yield Request("GET", f"{hub_path(hub)}/lists", auth="automation")
        data = self._json_or_none(response)
        if isinstance(data, dict):
            data = data.get("lists") or data.get("items") or data.get("rows") or []
        return [ListInfo.model_validate(item) for item in data or [] if isinstance(item, dict)]

    @staticmethod
    def _json_or_none(response: httpx.Response) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _list_info(self, response: httpx.Response, filename: str | None = None) -> ListInfo:
        data = self._json_or_none(response)
        info = ListInfo.model_validate(data) if isinstance(data, dict) else ListInfo()
        if info.filename is None and filename is not None:
            info = info.model_copy(update={"filename": filename})
        return info

    # -- test_connection -----------------------------------------------------------------------------

    def probe(self) -> Flow[str]:
        """Automation: ``list_lists`` on the ``probe_hub`` extra when set with ``api_token``.
        Integra: a ``getUserToken`` + ``EndSession`` round trip when login and password are set."""
        checked: list[str] = []
        conn = self.connection
        probe_hub = self.extras.get("probe_hub")
        if self.extras.get("api_token") and probe_hub:
            lists = yield from self.list_lists.flow(self, str(probe_hub))
            checked.append(f"Automation API token accepted (hub {probe_hub!r}, {len(lists)} list(s))")
        if conn.login and conn.password:
            token = yield from self._login_flow(conn.login, conn.password)
            yield self._end_session_request(conn.login, token)
            checked.append(f"Integra login of {conn.login!r} accepted (getUserToken + EndSession)")
        if not checked:
            raise DialerConfigError(
                "nothing to check: set login and password (Integra), or the api_token and probe_hub extras "
                "(Automation API; a pre-issued integra_token cannot be checked without side effects)"
            )
        return "; ".join(checked)

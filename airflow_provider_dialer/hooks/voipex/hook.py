"""VoipexHook: the Voipex IPBX dialer API (call lists, IVR applications, campaigns, campaign control) with OAuth2 tokens (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh)."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerHTTPError,
)
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.hooks.phone_format import PhoneFormat, phone_format_setting
from airflow_provider_dialer.hooks.voipex.verbs import VoipexVerbs
from airflow_provider_dialer.hooks.voipex.wire import (
    CAMPAIGN_COMMAND_ORDER,
    CAMPAIGN_COMMANDS,
    CallList,
    CallListCreate,
    CallListCreated,
    CallListNumber,
    Campaign,
    CampaignCommand,
    CampaignControl,
    CampaignCreate,
    CampaignCreated,
    ControlResult,
    Ivr,
    Page,
    TokenResponse,
)
from airflow_provider_dialer.transport.redaction import register_secret
from airflow_provider_dialer.transport.requests import Flow, Request, api_call
from airflow_provider_dialer.transport.settings import refuse_plain_http

if TYPE_CHECKING:
    import httpx


M = TypeVar("M", bound=BaseModel)
_IVRS = TypeAdapter(list[Ivr])

DEFAULT_AUTH_URL = "https://auth.voipex.io/token"
DEFAULT_CLIENT_ID = "api"
#: refresh this long before the access token expires, or 10% of its lifetime when that is shorter
REFRESH_SKEW_SECONDS = 30.0
#: page size for the GET lists (the API's documented maximum elsewhere is 5000)
PAGE_SIZE = 100


@dataclass
class _Token:
    access: str
    refresh: str | None
    #: monotonic instants: use the access token until ``refresh_at``; the refresh token until ``refresh_until``
    refresh_at: float
    refresh_until: float | None


def _skew(lifetime: float) -> float:
    return min(REFRESH_SKEW_SECONDS, 0.1 * lifetime)


class VoipexHook(VoipexVerbs, DialerHook):
    """Voipex IPBX dialer API (``https://ipbxapi.voipex.io``), Bearer tokens from an OAuth2 password grant.

    Connection: host (default ``ipbxapi.voipex.io``), login = API access e-mail, password; extras
    ``auth_url`` (default ``https://auth.voipex.io/token``), ``client_id`` (default ``api``), ``scope``.

    :param voipex_conn_id: the Airflow connection id (default ``voipex_default``).
    :param phone_format: how lead numbers go into call lists: ``digits`` (E.164 without "+", as the
        guide's example, the default) or ``e164``; a list upload's ``phone_format`` setting overrides it. The
        older name ``number_format`` is still taken, with a ``DeprecationWarning``.
    """

    conn_name_attr = "voipex_conn_id"
    default_conn_name = "voipex_default"
    conn_type = "voipex"
    hook_name = "Voipex IPBX"
    vendor = "Voipex"
    secret_extras = ()
    default_rate_limit = None
    #: links: campaigns and call lists (an upload makes one call list per chunk: the link is the first)
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {
        "campaign": frozenset({"campaign_id", "campaign_name"}),
        "list": frozenset({"list_id", "list_name"}),
    }
    default_host = "ipbxapi.voipex.io"

    def __init__(self, conn_id: str | None = None, *, phone_format: PhoneFormat | None = None, **kwargs: Any) -> None:
        older = {"number_format": kwargs.pop("number_format")} if "number_format" in kwargs else {}
        if older:
            warnings.warn(
                "VoipexHook(number_format=...) is deprecated; use phone_format=...", DeprecationWarning, stacklevel=2
            )
        super().__init__(conn_id, **kwargs)
        self.phone_format: PhoneFormat = phone_format_setting(
            self.vendor, {"phone_format": phone_format, **older}, "digits", older="number_format"
        )
        self._token: _Token | None = None
        self._token_lock = threading.Lock()

    # -- auth (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh) ----------------

    @property
    def auth_url(self) -> str:
        """The token endpoint; the https rule applies to it as to the API host."""
        url = str(self.extras.get("auth_url") or DEFAULT_AUTH_URL).strip()
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in {"http", "https"} or not parts.hostname:
            raise DialerConfigError(f"connection {self.conn_id!r}: auth_url must be an http(s) URL, got {url!r}")
        refuse_plain_http(
            scheme, parts.hostname, self.extras, self.conn_id, what="the password", host_label="token host "
        )
        return url

    def _token_request(self, form: dict[str, str]) -> Request:
        url = self.auth_url
        return Request(
            "POST",
            urlsplit(url).path or "/",
            url=url,
            data=form,
            authenticated=False,
            # asking for a token again is harmless, so a lost answer may be resent
            idempotent=True,
            headers={"Accept": "application/json"},
        )

    def _password_form(self) -> dict[str, str]:
        conn = self.connection
        if not conn.login or not conn.password:
            raise DialerConfigError(
                f"connection {self.conn_id!r} (Voipex) needs login (API access e-mail) and password"
            )
        form = {
            "grant_type": "password",
            "client_id": str(self.extras.get("client_id") or DEFAULT_CLIENT_ID),
            "username": conn.login,
            "password": conn.password,
        }
        scope = self.extras.get("scope")
        if scope:
            form["scope"] = str(scope)
        return form

    def _keep(self, response: httpx.Response, asked_at: float) -> dict[str, str]:
        """Cache the token answered; its lifetimes count from ``asked_at``, the instant before the request went out.

        The server starts a token's lifetime when it issues it, somewhere between our request and its
        answer: counting from the request keeps our expiry at or before the server's, however slow
        the answer (a slow answer counted from its arrival would have the hook send an expired token).
        """
        try:
            token = TokenResponse.model_validate_json(response.content)
        except ValidationError:
            raise DialerAuthError(
                self.vendor,
                "POST",
                urlsplit(self.auth_url).path,
                response.status_code,
                self.redact(response.text[:500]),
                "the token endpoint answered without an access_token",
            ) from None
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        now = asked_at
        refresh_until = None
        if token.refresh_expires_in:  # 0 / absent: no stated expiry (Keycloak offline tokens)
            refresh_until = now + token.refresh_expires_in - _skew(token.refresh_expires_in)
        self._token = _Token(
            access=token.access_token,
            refresh=token.refresh_token,
            refresh_at=now + token.expires_in - _skew(token.expires_in),
            refresh_until=refresh_until,
        )
        return {"Authorization": f"Bearer {token.access_token}"}

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        """Bearer header from the cached token; refresh before expiry, re-login when the refresh token is gone."""
        token = self._token
        now = time.monotonic()
        if token is not None and now < token.refresh_at:
            return {"Authorization": f"Bearer {token.access}"}
        if token is not None and token.refresh and (token.refresh_until is None or now < token.refresh_until):
            form = {
                "grant_type": "refresh_token",
                "client_id": str(self.extras.get("client_id") or DEFAULT_CLIENT_ID),
                "refresh_token": token.refresh,
            }
            try:
                asked_at = time.monotonic()
                response = yield self._token_request(form)
                return self._keep(response, asked_at)
            except DialerHTTPError as exc:
                if exc.status not in (400, 401):
                    raise
                self.log.info("Voipex refused the refresh token (HTTP %s); logging in again", exc.status)
            self._token = None
        try:
            asked_at = time.monotonic()
            response = yield self._token_request(self._password_form())
        except DialerHTTPError as exc:
            if exc.status in (400, 401, 403):
                raise exc.as_auth_error(
                    f"the token endpoint refused the login of connection {self.conn_id!r}; check the API access "
                    "e-mail, password and client_id"
                ) from None
            raise
        return self._keep(response, asked_at)

    def invalidate_auth(self, scheme: str = "default") -> bool:
        """After a 401 the access token is dropped (expired or revoked); the next request refreshes it."""
        with self._token_lock:
            if self._token is None:
                return True
            self._token.refresh_at = 0.0
        return True

    # -- parsing helpers ------------------------------------------------------------------------

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        """The answer read as ``model``; one that does not read raises pydantic's error, which the flow's
        driver turns into ``DialerAnswerError`` naming the request (``DialerHook.unreadable``)."""
        return model.model_validate_json(response.content)

    def _pages(self, path: str, model: type[M]) -> Flow[list[M]]:
        """Every item of a paginated GET list ({items, currentPage, totalPages, ...}); a bare array is accepted too."""
        out: list[M] = []
        page = 1
        while True:
            request = Request("GET", path, params={"page": page, "pageSize": PAGE_SIZE})
            response = yield request
            body = response.json()
            if isinstance(body, list):
                out.extend(model.model_validate(item) for item in body)
                return out
            # the page's item model is chosen at run time
            parsed = self._parse(Page[model], response)  # type: ignore[valid-type]
            out.extend(parsed.items)
            if parsed.current_page >= parsed.total_pages or not parsed.items:
                return out
            page = parsed.current_page + 1

    # -- call lists (guide step 1; reads are assumptions) -------------------------------------------

    @api_call
    def create_call_list(self, name: str, numbers: Iterable[CallListNumber | dict[str, Any]]) -> Flow[CallListCreated]:
        """``POST /dialer/call-lists``: a new call list; answers ``{id, message, numbersCount}``.

        Not resent when the answer is lost (``DialerDeliveryUnknownError``): find it by name with
        :meth:`list_call_lists` instead.
        """
        body = CallListCreate(
            name=name,
            numbers=[n if isinstance(n, CallListNumber) else CallListNumber.model_validate(n) for n in numbers],
        )
        return (yield from self._create_call_list_flow(to_json(body.wire())))

    def _create_call_list_flow(self, content: bytes) -> Flow[CallListCreated]:
        """The create request for an encoded body (``create_call_list`` and the list path)."""
        request = Request("POST", "/dialer/call-lists", content=content, headers={"Content-Type": "application/json"})
        response = yield request
        return self._parse(CallListCreated, response)

    @api_call
    def list_call_lists(self) -> Flow[list[CallList]]:
        """[A] ``GET /dialer/call-lists`` (paginated): every call list, without its numbers."""
        return (yield from self._pages("/dialer/call-lists", CallList))

    @api_call
    def get_call_list(self, call_list_id: int) -> Flow[CallList | None]:
        """[A] ``GET /dialer/call-lists/:id``; None when it does not exist (404)."""
        request = Request("GET", f"/dialer/call-lists/{int(call_list_id)}", accept_statuses=frozenset({404}))
        response = yield request
        if response.status_code == 404:
            return None
        return self._parse(CallList, response)

    # -- IVR applications (guide step 2) ---------------------------------------------------------

    @api_call
    def list_ivrs(self) -> Flow[list[Ivr]]:
        """``GET /ivr``: the IVR applications (a JSON array)."""
        request = Request("GET", "/ivr")
        response = yield request
        body = response.json()
        # a list that does not read (or is no list) raises pydantic's error: DialerAnswerError (see _parse)
        return _IVRS.validate_python(body.get("items", []) if isinstance(body, dict) else body)

    @api_call
    def find_ivr(self, name_or_id: str) -> Flow[Ivr | None]:
        """The IVR application whose id, else whose name, is ``name_or_id`` (None when none is)."""
        ivrs = yield from self.list_ivrs.flow(self)
        for ivr in ivrs:
            if ivr.id == name_or_id:
                return ivr
        named = [ivr for ivr in ivrs if ivr.name == name_or_id]
        if len(named) > 1:
            raise DialerConfigError(
                f"Voipex has {len(named)} IVR applications named {name_or_id!r} ({', '.join(i.id for i in named)}); pass the id"
            )
        return named[0] if named else None

    # -- campaigns (guide steps 3-4; list/get/edit implied, shapes assumed) -------------------------

    @api_call
    def create_campaign(self, campaign: CampaignCreate | dict[str, Any]) -> Flow[CampaignCreated]:
        """``POST /dialer/campaigns``; answers ``{id, message}``. Not resent when the answer is lost."""
        body = campaign if isinstance(campaign, CampaignCreate) else CampaignCreate.model_validate(campaign)
        request = Request("POST", "/dialer/campaigns", json=body.wire())
        response = yield request
        return self._parse(CampaignCreated, response)

    @api_call
    def list_campaigns(self) -> Flow[list[Campaign]]:
        """[A] ``GET /dialer/campaigns`` (paginated; the guide mentions "the campaign list")."""
        return (yield from self._pages("/dialer/campaigns", Campaign))

    @api_call
    def get_campaign(self, campaign_id: int) -> Flow[Campaign | None]:
        """[A] ``GET /dialer/campaigns/:id``; None when it does not exist (404)."""
        request = Request("GET", f"/dialer/campaigns/{int(campaign_id)}", accept_statuses=frozenset({404}))
        response = yield request
        if response.status_code == 404:
            return None
        return self._parse(Campaign, response)

    @api_call
    def update_campaign(self, campaign_id: int, campaign: CampaignCreate | dict[str, Any]) -> Flow[CampaignCreated]:
        """[A] ``PUT /dialer/campaigns/:id`` with the whole create body (the guide mentions "editing a campaign").

        A full replacement, so resending it is safe (idempotent).
        """
        body = campaign if isinstance(campaign, CampaignCreate) else CampaignCreate.model_validate(campaign)
        request = Request("PUT", f"/dialer/campaigns/{int(campaign_id)}", json=body.wire(), idempotent=True)
        response = yield request
        return self._parse(CampaignCreated, response)

    @api_call
    def control_campaign(self, campaign_id: int, command: CampaignCommand) -> Flow[ControlResult]:
        """``PUT /dialer/campaigns/:id/control`` with ``{"command": ...}``: start, pause, unpause, reload or remove.

        Another command raises ``DialerConfigError`` before any request.
        """
        if command not in CAMPAIGN_COMMANDS:
            raise DialerConfigError(
                f"Voipex campaign command must be one of {', '.join(CAMPAIGN_COMMAND_ORDER)}, got {command!r}"
            )
        body = CampaignControl(command=command)
        request = Request("PUT", f"/dialer/campaigns/{int(campaign_id)}/control", json=body.wire())
        response = yield request
        if not response.content.strip():
            return ControlResult(id=int(campaign_id))
        return self._parse(ControlResult, response)

    # -- test_connection ----------------------------------------------------------------------

    def probe(self) -> Flow[str]:
        """Token fetch (the auth flow) then ``GET /ivr``."""
        ivrs = yield from self.list_ivrs.flow(self)
        return f"token obtained from {urlsplit(self.auth_url).hostname}, {len(ivrs)} IVR application(s) visible"

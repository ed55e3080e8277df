"""The Voipex emulator's HTTP layer: ``POST /token``, the dialer API and ``/ivr``, mapped onto :class:`VoipexBackend`.

Here live what belongs to HTTP: the Bearer header, content types, path ids and the query's page.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.http import VendorAPI, json_response, media_type, scheme_token
from airflow_provider_dialer.emulator.voipex.backend import PAGE_SIZE_DEFAULT, VoipexBackend, paginate
from airflow_provider_dialer.emulator.voipex.wire import boom, oauth_error


def _id(request: Request, key: str) -> int | None:
    raw = request.path_params[key]
    return int(raw) if raw.isdigit() else None


def _page(request: Request, items: list[dict[str, object]]) -> Response:
    query = request.query_params
    page, size = query.get("page", "1"), query.get("pageSize", str(PAGE_SIZE_DEFAULT))
    return json_response(paginate(items, page, size, request.url.path))


class VoipexAPI(VendorAPI[VoipexBackend]):
    """``POST /token``, ``/dialer/call-lists``, ``GET /ivr``, ``/dialer/campaigns`` and their control."""

    backend_class = VoipexBackend

    def routes(self) -> list[BaseRoute]:
        e = self.endpoint
        return [
            Route("/token", e(self.token), methods=["POST"]),
            Route("/dialer/call-lists", e(self.create_call_list), methods=["POST"]),
            Route("/dialer/call-lists", e(self.read_call_lists), methods=["GET"]),
            Route("/dialer/call-lists/{list_id}", e(self.read_call_list), methods=["GET"]),
            Route("/ivr", e(self.ivr), methods=["GET"]),
            Route("/dialer/campaigns", e(self.create_campaign), methods=["POST"]),
            Route("/dialer/campaigns", e(self.campaigns_list), methods=["GET"]),
            Route("/dialer/campaigns/{campaign_id}", e(self.campaign), methods=["GET", "PUT"]),
            Route("/dialer/campaigns/{campaign_id}/control", e(self.control), methods=["PUT"]),
        ]

    async def token(self, request: Request) -> Response:
        """Keycloak-shaped password and refresh-token grants, read from a URL-encoded form."""
        if media_type(request) != "application/x-www-form-urlencoded":
            raise oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        raw = await request.body()
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        return json_response(self.backend.grant(form))

    def _check_access(self, request: Request) -> None:
        """401 unless the request carries a live Bearer access token."""
        self.backend.check_access(scheme_token(request, "bearer"))

    async def _json(self, request: Request) -> bytes:
        """The body of an authorised JSON request (else the refusal is raised)."""
        self._check_access(request)
        if media_type(request) != "application/json":
            raise boom(415, "Unsupported Media Type", "Unsupported Media Type")
        raw = await request.body()
        if not raw.strip():
            raise boom(400, "Bad Request", "Invalid request payload JSON format")
        return raw

    # -- call lists (guide step 1) ----------------------------------------------------------------

    async def create_call_list(self, request: Request) -> Response:
        raw = await self._json(request)
        name, numbers, attributes = await run_in_threadpool(self.backend.parse_call_list, raw)
        del raw
        list_id = self.backend.add_call_list(name, numbers, attributes)
        return json_response({"id": list_id, "message": "Call list successfully created", "numbersCount": len(numbers)})

    async def read_call_lists(self, request: Request) -> Response:
        """[A] ``GET /dialer/call-lists``: the lists without their numbers, paginated."""
        self._check_access(request)
        return _page(request, self.backend.call_lists_public())

    async def read_call_list(self, request: Request) -> Response:
        """[A] ``GET /dialer/call-lists/:id``."""
        self._check_access(request)
        return json_response(self.backend.call_list_public(_id(request, "list_id")))

    # -- IVR (guide step 2) -----------------------------------------------------------------------

    async def ivr(self, request: Request) -> Response:
        self._check_access(request)
        return json_response(self.backend.ivrs_public())

    # -- campaigns (guide steps 3-4) --------------------------------------------------------------

    async def create_campaign(self, request: Request) -> Response:
        campaign_id = self.backend.create_campaign(await self._json(request))
        return json_response({"id": campaign_id, "message": "Campaign successfully created"})

    async def campaigns_list(self, request: Request) -> Response:
        """[A] ``GET /dialer/campaigns``: removed campaigns are not listed."""
        self._check_access(request)
        return _page(request, self.backend.campaigns_public())

    async def campaign(self, request: Request) -> Response:
        """[A] ``GET /dialer/campaigns/:id`` and ``PUT`` (the guide's "editing a campaign": the create body)."""
        if request.method == "GET":
            self._check_access(request)
            return json_response(self.backend.campaign_public(_id(request, "campaign_id")))
        raw = await self._json(request)
        campaign_id = self.backend.update_campaign(_id(request, "campaign_id"), raw)
        return json_response({"id": campaign_id, "message": "Campaign successfully updated"})

    async def control(self, request: Request) -> Response:
        """``PUT /dialer/campaigns/:id/control``: the five commands (see ``VoipexBackend.control``)."""
        raw = await self._json(request)
        return json_response(self.backend.control(_id(request, "campaign_id"), raw))

"""The uContact emulator's HTTP layer: Integra's form endpoints and Automation's JSON ones, mapped onto the backends.

Integra answers in text (``0``/``1``) and JSON arrays; Automation in JSON with a Bearer API token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.http import Handler, VendorAPI, json_response, scheme_token
from airflow_provider_dialer.emulator.state import same_text
from airflow_provider_dialer.emulator.ucontact.backend import AutomationBackend, IntegraBackend


def _text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


class IntegraAPI(VendorAPI[IntegraBackend]):
    """``/Integra/resources/auth/getUserToken``, ``/auth/EndSession`` and ``/Dialers/DialerTask``."""

    backend_class = IntegraBackend

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/Integra/resources/auth/getUserToken", self.get_user_token, methods=["POST"]),
            # not in the DialerTask document: public clients log in here and take the token at index 2
            Route("/Integra/resources/auth/UserLogin", self.get_user_token, methods=["POST"]),
            Route("/Integra/resources/auth/EndSession", self.end_session, methods=["POST"]),
            Route("/Integra/resources/Dialers/DialerTask", self.dialer_task, methods=["POST"]),
        ]

    async def get_user_token(self, request: Request) -> Response:
        """Form ``user``/``password`` -> JSON array whose last element is base64("user:uuid"); bad creds -> ``0``.

        Served at ``getUserToken`` and ``UserLogin`` alike (``["Supervisor", user, token]``: the token is
        both the last element and index 2).
        """
        form = await request.form()
        user, password = str(form.get("user") or ""), str(form.get("password") or "")
        token = self.backend.login(user, password)
        if token is None:
            return _text("0")
        return JSONResponse(["Supervisor", user, token])

    async def end_session(self, request: Request) -> Response:
        """Form ``user``/``token``: invalidates the token (``1``); an unknown pair answers ``0``.

        Public clients also send ``Authorization: Basic <token>``. When they do, it must name the same
        session as the form's ``token`` (a header for another session answers ``0``); a request with no
        form ``token`` ends the session the header names.
        """
        form = await request.form()
        user, token = str(form.get("user") or ""), str(form.get("token") or "")
        header = scheme_token(request, "basic")
        if header is not None:
            if token and not same_text(token, header):
                return _text("0")
            token = header
        return _text("1" if self.backend.end_session(user, token) else "0")

    async def dialer_task(self, request: Request) -> Response:
        """Adds the form's ``call`` record: 200 ``1`` when stored, 200 ``0`` for anything wrong with it
        (docs/vendors/ucontact.md#decision-dialertask-success-is-the-text-1); no session -> 401, empty."""
        user = self.backend.session_user(scheme_token(request, "basic"))
        if user is None:
            return Response(status_code=401)
        form = await request.form()
        raw = form.get("call")
        return _text("1" if self.backend.add_call(user, raw if isinstance(raw, str) else None) else "0")


class AutomationAPI(VendorAPI[AutomationBackend]):
    """``/api/dialer/id/<hub>/lists`` (POST, and the assumed GETs) and ``/api/dialer/id/<hub>/freshLeads``."""

    backend_class = AutomationBackend

    def routes(self) -> list[BaseRoute]:
        guarded = self._guarded
        return [
            Route("/api/dialer/id/{hub}/lists", guarded(self.post_list), methods=["POST"]),
            Route("/api/dialer/id/{hub}/lists", guarded(self.get_lists), methods=["GET"]),
            Route("/api/dialer/id/{hub}/lists/{list_id}", guarded(self.get_list), methods=["GET"]),
            Route("/api/dialer/id/{hub}/freshLeads", guarded(self.post_fresh), methods=["POST"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        """The Bearer API token first (401), then the hub (404), then the handler; refusals answered as JSON."""

        async def guarded(request: Request) -> Response:
            if not self.backend.accepts(scheme_token(request, "bearer")):
                return json_response({"message": "Unauthorized: missing or invalid API token"}, 401)
            self.backend.check_hub(request.path_params["hub"])
            return await handler(request)

        return self.endpoint(guarded)

    async def post_list(self, request: Request) -> Response:
        """ "Subir una lista": 202 with the new list in ``loading``."""
        return json_response(self.backend.add_list(request.path_params["hub"], await request.body()), 202)

    async def get_lists(self, request: Request) -> Response:
        return json_response(self.backend.lists_of(request.path_params["hub"]))

    async def get_list(self, request: Request) -> Response:
        try:
            list_id = int(request.path_params["list_id"])
        except ValueError:
            list_id = -1
        return json_response(self.backend.list_of(request.path_params["hub"], list_id))

    async def post_fresh(self, request: Request) -> Response:
        """ "Fresh leads": 200 ``{"count": n}`` once every lead is stored."""
        count = self.backend.add_fresh(request.path_params["hub"], await request.body())
        return json_response({"count": count})

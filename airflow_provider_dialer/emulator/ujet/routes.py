"""The UJET emulator's HTTP layer: the Apps API and manager API routes, Basic auth and the 429, mapped onto :class:`UjetBackend`.

Here live what belongs to HTTP: credentials and the rate limit's answer, the multipart upload, the
``Location`` (and ``Link``) of a new import job, status codes.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.http import Handler, VendorAPI, basic_credentials, json_response
from airflow_provider_dialer.emulator.state import Refused
from airflow_provider_dialer.emulator.ujet.backend import UjetBackend

APPS = "/apps/api/v1/outbound_dialer/campaigns"
MANAGER = "/manager/api/v1/outbound_dialer/campaigns"


class UjetAPI(VendorAPI[UjetBackend]):
    """The CCAI Platform outbound dialer endpoints, with Basic auth and a per-customer rate limit."""

    backend_class = UjetBackend

    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        return [
            Route(f"{APPS}/{{campaign_id}}/contacts", g(self.contacts), methods=["GET", "POST"]),
            Route(f"{APPS}/{{campaign_id}}/contacts/import", g(self.import_contacts), methods=["POST"]),
            Route(f"{APPS}/{{campaign_id}}/contacts/jobs/{{job_id}}", g(self.job), methods=["GET"]),
            Route(f"{APPS}/{{campaign_id}}/contact", g(self.contact), methods=["PATCH", "DELETE"]),
            Route(MANAGER, g(self.manager_campaigns), methods=["GET"]),
            Route(f"{MANAGER}/{{campaign_id}}", g(self.manager_campaign), methods=["GET"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        """401 unless Basic credentials carry the configured token (any username); then the rate limit
        (docs/vendors/ujet.md#decision-rate-limit-10-per-second); then the handler."""

        async def guarded(request: Request) -> Response:
            credentials = basic_credentials(request)
            if credentials is None or not self.backend.accepts(*credentials):
                raise Refused(401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="API"'})
            if not self.backend.take_request_token():
                message = "Rate limit exceeded: too many requests per second for this customer"
                raise Refused(429, {"message": message}, {"Retry-After": "1"})
            return await handler(request)

        return self.endpoint(guarded)

    # -- Apps API -----------------------------------------------------------------------------

    async def contacts(self, request: Request) -> Response:
        """POST: add one contact (seed "Adicionar um único contato"); GET: the campaign's contacts as an array."""
        campaign_id = request.path_params["campaign_id"]
        if request.method == "GET":
            return json_response(self.backend.contacts_of(campaign_id))
        return json_response(self.backend.add_contact(campaign_id, await request.body()))

    async def import_contacts(self, request: Request) -> Response:
        """Multipart ``file`` holding a JSON array (seed "Importar vários contatos"): 202, empty body, Location (docs/vendors/ujet.md#decision-import-job-id-discovery)."""
        cid = self.backend.check_campaign(request.path_params["campaign_id"])
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return json_response({"message": "Content-Type must be multipart/form-data with a 'file' part"}, 415)
        try:
            form = await request.form(max_files=4, max_fields=16)
        except Exception as exc:  # noqa: BLE001 - a malformed multipart body is the client's error
            return json_response({"message": f"Malformed multipart body: {exc}"}, 400)
        upload = form.get("file")
        try:
            if upload is None or isinstance(upload, str):
                return json_response({"message": "param is missing or the value is empty: file"}, 400)
            raw = await upload.read()
        finally:
            await form.close()
        rows, invalid_count = await run_in_threadpool(self.backend.parse_import, raw)
        del raw
        job_id = self.backend.start_import(cid, rows, invalid_count)
        location = f"{APPS}/{cid}/contacts/jobs/{job_id}"
        headers = {"Location": location}
        if self.backend.config.ujet_link_header:
            headers["Link"] = f'<{location}>; rel="status"'
        return Response(status_code=202, headers=headers)

    async def job(self, request: Request) -> Response:
        """``GET …/contacts/jobs/{job_id}``: ``in_progress``, then ``completed`` or ``failed`` (seed "Jobs")."""
        return json_response(self.backend.job_public(request.path_params["campaign_id"], request.path_params["job_id"]))

    async def contact(self, request: Request) -> Response:
        """PATCH / DELETE the singular ``…/contact`` with a JSON body; both answer the seed's contact object."""
        campaign_id, raw = request.path_params["campaign_id"], await request.body()
        if request.method == "PATCH":
            return json_response(self.backend.patch_contact(campaign_id, raw))
        return json_response(self.backend.delete_contact(campaign_id, raw))

    # -- manager API --------------------------------------------------------------------------

    async def manager_campaigns(self, request: Request) -> Response:
        return json_response(self.backend.campaigns_public())

    async def manager_campaign(self, request: Request) -> Response:
        return json_response(self.backend.campaign_public(request.path_params["campaign_id"]))

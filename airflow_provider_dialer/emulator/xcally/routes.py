"""The XCALLY emulator's HTTP layer: Motion's routes, its auth (Basic or ``?apikey=``), JSON bodies, multipart upload
and query strings (``query.py``), mapped onto :class:`XCallyBackend`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.http import Handler, VendorAPI, basic_credentials, json_response, read_json
from airflow_provider_dialer.emulator.xcally import query
from airflow_provider_dialer.emulator.xcally.backend import XCallyBackend
from airflow_provider_dialer.emulator.xcally.wire import (
    AgentsBody,
    ContactCreate,
    IdsBody,
    ListCreate,
    QueueCreate,
    QueueUpdate,
    UploadBind,
    message,
    parsed,
)

#: bulk bodies bigger than this are validated on a worker thread, so the server keeps answering meanwhile
BULK_INLINE_BYTES = 1_000_000


async def _body(request: Request, model: type[BaseModel]) -> Any:
    """The JSON body validated by ``model``, or the answer Motion gives: 400 with a message for a body
    that is not JSON, a Sequelize-style validation error for one the model refuses."""
    body, error = await read_json(request)
    if error:
        raise message(error, 400)
    return parsed(body, model)


def _collection(request: Request, rows: list[dict[str, Any]]) -> Response:
    body, headers = query.collection(request.query_params, rows)
    return json_response(body, headers=headers)


class XCallyAPI(VendorAPI[XCallyBackend]):
    """XCALLY Motion on one port: ``/api/cm/...``, ``/api/voice/queues...``, ``/api/users``, ``/api/realtime/agents``."""

    backend_class = XCallyBackend

    def routes(self) -> list[BaseRoute]:
        g = self._guarded
        return [
            Route("/api/cm/lists", g(self.lists_collection), methods=["GET", "POST"]),
            Route("/api/cm/lists/{list_id:int}", g(self.list_item), methods=["GET"]),
            Route("/api/cm/lists/{list_id:int}/fields", g(self.list_fields), methods=["GET"]),
            Route("/api/cm/lists/{list_id:int}/users", g(self.list_users_route), methods=["GET", "POST"]),
            Route("/api/cm/lists/{list_id:int}/contacts", g(self.list_contacts), methods=["POST"]),
            Route("/api/cm/contacts", g(self.contacts_collection), methods=["GET", "POST"]),
            Route("/api/cm/contacts/upload", g(self.upload_stage), methods=["POST"]),
            Route("/api/cm/contacts/upload/{name}", g(self.upload_bind), methods=["POST"]),
            Route("/api/voice/queues", g(self.queues_collection), methods=["GET", "POST"]),
            Route("/api/voice/queues/{qid:int}", g(self.queue_item), methods=["GET", "PUT"]),
            Route("/api/voice/queues/{qid:int}/lists", g(self.queue_lists), methods=["GET", "POST", "DELETE"]),
            Route("/api/voice/queues/{qid:int}/users", g(self.queue_users), methods=["GET", "POST"]),
            Route("/api/voice/queues/{qid:int}/teams", g(self.queue_teams), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper", g(self.queue_hopper), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper_histories", g(self.queue_histories), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper_finals", g(self.queue_finals), methods=["GET"]),
            Route("/api/users", g(self.users), methods=["GET"]),
            Route("/api/realtime/agents", g(self.realtime_agents), methods=["GET"]),
        ]

    def _authorized(self, request: Request) -> bool:
        key = request.query_params.get("apikey")
        if key is not None:
            return self.backend.accepts_api_key(key)
        credentials = basic_credentials(request)
        return credentials is not None and self.backend.accepts_user(*credentials)

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not self._authorized(request):
                raise message("Unauthorized", 401)
            return await handler(request)

        return self.endpoint(guarded)

    # -- lists -------------------------------------------------------------------------------------

    async def lists_collection(self, request: Request) -> Response:
        if request.method == "GET":
            return _collection(request, self.backend.lists_rows())
        data = await _body(request, ListCreate)
        return json_response(self.backend.create_list(data.name, data.description), 201)

    async def list_item(self, request: Request) -> Response:
        return json_response(self.backend.list_public(request.path_params["list_id"]))

    async def list_fields(self, request: Request) -> Response:
        include = request.query_params.get("includeGlobals") != "false"
        rows = self.backend.list_fields(request.path_params["list_id"], include)
        return json_response({"count": len(rows), "rows": rows})

    async def list_users_route(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        if request.method == "GET":
            return _collection(request, self.backend.list_agents(list_id))
        data = await _body(request, IdsBody)
        return json_response(self.backend.add_list_agents(list_id, data), 201)

    # -- contacts ----------------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        raw = await request.body()
        self.backend.check_list(list_id)
        if len(raw) > BULK_INLINE_BYTES:
            ids = await run_in_threadpool(self.backend.add_bulk, list_id, raw)
        else:
            ids = self.backend.add_bulk(list_id, raw)
        # the answer's shape is not documented (NF): [A] one {"id"} per created contact, in order
        body = "[" + ",".join(map('{{"id":{}}}'.format, ids)) + "]"
        return Response(body, status_code=201, media_type="application/json")

    async def contacts_collection(self, request: Request) -> Response:
        if request.method == "POST":
            data = await _body(request, ContactCreate)
            return json_response(self.backend.add_contact(data.model_dump(exclude_none=True)), 201)
        q = request.query_params
        offset, limit = query.window(q)
        try:
            list_id = int(q["ListId"]) if "ListId" in q else None
        except ValueError as exc:
            raise message(str(exc), 400) from None
        filters = {k: q.getlist(k) for k in q.keys() if k not in query.RESERVED_QUERY and k != "ListId"}
        rows, total = self.backend.contacts_page(list_id, offset, limit, filters, q.get("filter"), q.get("sort"))
        body, headers = query.page(q, rows, total, offset)
        return json_response(body, headers=headers)

    # -- CSV upload --------------------------------------------------------------------------------

    async def upload_stage(self, request: Request) -> Response:
        """Step 1: the file as flow.js multipart (``file``) or, as in the document, the raw body."""
        filename = "upload.csv"
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=2, max_fields=50)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise message("multipart field 'file' is required", 400)
            content = await upload.read()
            flow_filename = form.get("flowFilename")
            filename = (flow_filename if isinstance(flow_filename, str) else None) or upload.filename or filename
            total_chunks = form.get("flowTotalChunks")
            if total_chunks not in (None, "1"):
                raise message("chunked flow.js uploads (flowTotalChunks > 1) are not emulated", 400)
            total_size = form.get("flowTotalSize")
            if total_size is not None and str(total_size) != str(len(content)):
                raise message(f"flowTotalSize {total_size} does not match the file size {len(content)}", 400)
            await form.close()
        else:  # the document's form: curl --data-binary @file.csv -H 'content-type: application/x-www-form-urlencoded'
            content = await request.body()
        return json_response(self.backend.csv.stage(filename, content), 201)

    async def upload_bind(self, request: Request) -> Response:
        """Step 2: bind the staged file's columns into a list; the import runs in the background."""
        data = await _body(request, UploadBind)
        return json_response({"pid": self.backend.csv.bind(request.path_params["name"], data)})

    # -- queue campaigns ---------------------------------------------------------------------------

    async def queues_collection(self, request: Request) -> Response:
        if request.method == "GET":
            return _collection(request, self.backend.queues_rows())
        data = await _body(request, QueueCreate)
        return json_response(self.backend.create_queue(data.model_dump()), 201)

    async def queue_item(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        if request.method == "GET":
            return json_response(self.backend.queue_public(qid))
        changes = await _body(request, QueueUpdate)
        return json_response(self.backend.update_queue(qid, changes.model_dump(exclude_unset=True)))

    async def queue_lists(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        if request.method == "GET":
            offset, limit = query.association_window(request.query_params)
            rows, headers = query.bare_page(self.backend.queue_lists(qid), offset, limit)
            return json_response(rows, headers=headers)
        if request.method == "POST":
            data = await _body(request, IdsBody)
            return json_response(self.backend.attach_lists(qid, data), 201)
        return json_response(self.backend.detach_lists(qid, request.query_params.getlist("ids")))

    async def queue_users(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        if request.method == "GET":
            return _collection(request, self.backend.queue_agents(qid))
        data = await _body(request, AgentsBody)
        return json_response(self.backend.add_queue_agents(qid, data), 201)

    async def queue_teams(self, request: Request) -> Response:
        """``GET /api/voice/queues/{id}/teams``: the teams sharing the queue. The emulator has no teams, so
        the page is always empty; public clients read it to check a campaign is not shared."""
        self.backend.check_queue(request.path_params["qid"])
        return _collection(request, [])

    async def queue_hopper(self, request: Request) -> Response:
        return _collection(request, self.backend.hopper_rows(request.path_params["qid"]))

    async def queue_finals(self, request: Request) -> Response:
        return _collection(request, self.backend.hopper_rows(request.path_params["qid"], finals=True))

    async def queue_histories(self, request: Request) -> Response:
        self.backend.check_queue(request.path_params["qid"])
        return _collection(request, [])  # nothing is dialed in the emulator

    # -- agents ------------------------------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        return _collection(request, self.backend.users())

    async def realtime_agents(self, request: Request) -> Response:
        return _collection(request, self.backend.realtime_agents())

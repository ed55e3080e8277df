"""The Airflow 3.3 web UI with the provider installed, in Debian's chromium (Playwright).

Run by ``scripts/e2e.py local`` (``make e2e``) against its running api-server; collected only when
``DIALER_E2E_API`` is set. For each of the four connection types: the Add Connection form shows the
provider's fields with their labels, placeholders and descriptions, secret extras as password
inputs and nothing secret in clear; the connection saves; the Test button answers a good and a bad
password with a message naming the user's connection. Then the extra links of finished tasks (the
**Run report** link followed to the report it opens), and an example triggered from the UI's
Trigger form, with the logical date the form fills in and with it cleared.
Screenshots go to ``DIALER_E2E_SCREENSHOTS`` (a build artefact, not in git).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_dialer import get_provider_info

API = os.environ.get("DIALER_E2E_API", "")
WORK = pathlib.Path(os.environ.get("DIALER_E2E_WORK", "."))
SHOTS = pathlib.Path(os.environ.get("DIALER_E2E_SCREENSHOTS", "."))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VENDORS = ("ucontact", "xcally", "voipex", "ujet")
RUN = secrets.token_hex(2)  # connection ids of this session (a rerun against the same server adds new ones)
#: each vendor's password-like extras the tests fill in, and what the emulator's credentials call them
SECRET_EXTRAS = {"ucontact": {"api_token": "api_token"}, "xcally": {"api_key": "api_key"}, "voipex": {}, "ujet": {}}
#: every extra that holds a secret, written here rather than read from the provider's form (a form that
#: forgot to mark one as a password would otherwise not be checked for it)
SECRET_FIELDS = {"ucontact": ("api_token", "integra_token"), "xcally": ("api_key",), "voipex": (), "ujet": ()}

pytestmark = pytest.mark.skipif(not API, reason="needs the deployment scripts/e2e.py starts")


@pytest.fixture(scope="module")
def emulator() -> dict[str, Any]:
    return json.loads((WORK / "emulator.json").read_text())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{API}/")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(os.environ["DIALER_E2E_PASSWORD"])
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{API}/", timeout=60_000)
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name) + ".png")), full_page=True)
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def connection_type(vendor: str) -> dict[str, Any]:
    return next(e for e in get_provider_info()["connection-types"] if e["connection-type"] == vendor)


def open_add_form(page: Any, vendor: str) -> Any:
    page.goto(f"{API}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.locator("[role=dialog]")
    dialog.get_by_role("combobox").fill(connection_type(vendor)["hook-name"])
    page.keyboard.press("Enter")
    dialog.locator("input[name=host]").wait_for()
    return dialog


def field_group(dialog: Any, label: str) -> Any:
    return dialog.locator("[data-part=root][role=group]").filter(
        has=dialog.page.locator("label", has_text=re.compile("^" + re.escape(label.strip())))
    )


def fill_connection(
    page: Any,
    dialog: Any,
    vendor: str,
    conn_id: str,
    emulator: dict[str, Any],
    *,
    password: str | None = None,
    port: bool = True,
) -> None:
    info = emulator[vendor]
    creds = info["credentials"]
    base_url = info["base_url"]
    dialog.locator("input[name=connection_id]").fill(conn_id)
    dialog.locator("input[name=host]").fill(base_url)
    if port:
        dialog.locator("input[name=port]").fill(base_url.rsplit(":", 1)[1])
    dialog.locator("input[name=login]").fill(creds["user"])
    dialog.locator("input[name=password]").fill(password or creds.get("password") or creds["token"])
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    for field, cred in SECRET_EXTRAS[vendor].items():
        dialog.locator(f"input[name=element_{field}]").fill(password or creds[cred])
    if vendor == "voipex":  # the emulator's token URL
        dialog.locator("input[name=element_auth_url]").fill(f"{base_url}/token")


def submit(page: Any, dialog: Any, method: str, what: str) -> None:
    """Click the dialog's Save and wait for the request it sends (``method`` on the connections API).

    A click that sent nothing (the form was still settling) is clicked once more, with a screenshot
    of the first try kept; a refused save fails with the server's answer and the dialog's text.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in (1, 2):
        try:
            with page.expect_response(
                lambda r: r.request.method == method and "/api/v2/connections" in r.url, timeout=15_000
            ) as answer:
                dialog.get_by_role("button", name="Save").click()
        except PlaywrightTimeout as exc:  # no request went out: try once more
            shot(page, f"save-sent-nothing-{what}-{attempt}")
            if attempt == 2:
                raise AssertionError(
                    f"Save sent no {method} for {what}; the dialog says: {dialog.inner_text()[:500]}"
                ) from exc
            continue
        response = answer.value
        assert response.ok, (
            f"saving {what}: HTTP {response.status} {response.text()[:300]}; dialog: {dialog.inner_text()[:300]}"
        )
        dialog.wait_for(state="hidden")
        return


def save(page: Any, dialog: Any, conn_id: str) -> None:
    submit(page, dialog, "POST", conn_id)
    page.goto(f"{API}/connections")  # the list as the server holds it now
    row_of(page, conn_id).wait_for()


def row_of(page: Any, conn_id: str) -> Any:
    """The connection list's row whose Connection ID cell is exactly ``conn_id``."""
    return page.locator("tr").filter(has=page.locator("td", has_text=re.compile("^" + re.escape(conn_id) + "$"))).first


def run_test(page: Any, conn_id: str) -> tuple[int, dict[str, Any], str]:
    """Click the row's Test button; returns the endpoint's status, its JSON and the toast's text."""
    page.goto(f"{API}/connections")
    row = row_of(page, conn_id)
    with page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answer:
        row.get_by_role("button", name="Test Connection").click()
    response = answer.value
    toast = page.locator("[data-scope=toast][data-part=root]").last
    toast.wait_for()
    return response.status, response.json(), toast.inner_text()


@pytest.mark.parametrize("vendor", VENDORS)
def test_add_form_shows_the_providers_fields_and_no_secret(page, vendor, emulator):
    entry = connection_type(vendor)
    behaviour = entry["ui-field-behaviour"]
    dialog = open_add_form(page, vendor)
    shot(page, f"add-{vendor}-standard")
    # the standard fields, relabelled, with their placeholders
    for field, label in behaviour["relabeling"].items():
        group = field_group(dialog, label)
        assert group.count() == 1, f"{vendor}: no field labelled {label!r}"
        placeholder = behaviour["placeholders"].get(field)
        if placeholder:
            assert group.locator(f"input[name={field}]").get_attribute("placeholder") == placeholder
    assert dialog.locator("input[name=password]").get_attribute("type") == "password"
    secret = "Typed-Secret-" + vendor
    dialog.locator("input[name=password]").fill(secret)
    # the extra fields (their section opens, the standard one closes): label, description, password inputs for secrets, no red "required" mark
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    shot(page, f"add-{vendor}-extras")
    for name, field in entry["conn-fields"].items():
        group = field_group(dialog, field["label"])
        assert group.count() >= 1, f"{vendor}: no extra field labelled {field['label']!r}"
        label_text = group.first.locator("label").first.inner_text()
        assert "*" not in label_text, f"{vendor}: {field['label']!r} is marked required"
        if field.get("description"):
            helper = group.first.locator("[data-part=helper-text]").inner_text()
            assert " ".join(field["description"].split())[:60] in " ".join(helper.split()), (vendor, name)
        if field["schema"].get("format") == "password":
            assert dialog.locator(f"input[name=element_{name}]").get_attribute("type") == "password", (vendor, name)
    # typed secrets stay out of sight: every secret extra is a password input, no other input or text
    # area holds what was typed, and the Extra Fields JSON editor (which shows extras in clear in
    # Airflow 3.3) stays collapsed
    for name in SECRET_FIELDS[vendor]:
        box = dialog.locator(f"input[name=element_{name}]")
        assert box.get_attribute("type") == "password", f"{vendor}: the secret extra {name!r} shows in clear"
        box.fill(secret)
    in_clear = dialog.evaluate(
        """(d, s) => [...d.querySelectorAll('input, textarea')]
            .filter(e => e.value.includes(s) && e.type !== 'password').map(e => e.name || e.tagName)""",
        secret,
    )
    assert in_clear == [], f"{vendor}: the typed secret shows in clear in {in_clear}"
    assert secret not in dialog.evaluate("d => d.innerText")
    editor = dialog.locator(".cm-content, .monaco-editor, textarea[name=extra]")
    assert not any(e.is_visible() for e in editor.all()), "the extra JSON editor is open by default"


@pytest.mark.parametrize("vendor", VENDORS)
def test_save_then_test_good_and_bad_password_names_the_connection(page, vendor, emulator):
    good_id, bad_id = f"e2e_{vendor}_good_{RUN}", f"e2e_{vendor}_bad_{RUN}"
    dialog = open_add_form(page, vendor)
    fill_connection(page, dialog, vendor, good_id, emulator)
    save(page, dialog, good_id)
    dialog = open_add_form(page, vendor)
    wrong = f"Wrong-pass-{vendor}-1234"
    fill_connection(page, dialog, vendor, bad_id, emulator, password=wrong)
    save(page, dialog, bad_id)

    status, body, toast = run_test(page, good_id)
    shot(page, f"test-{vendor}-good")
    assert status == 200 and body["status"] is True, body
    assert repr(good_id) in toast and "connected to" in toast, toast

    status, body, toast = run_test(page, bad_id)
    shot(page, f"test-{vendor}-bad")
    assert status == 200 and body["status"] is False, body
    assert repr(bad_id) in toast, f"the message names another connection: {toast}"
    assert "Authentication failed" in toast and "password" in toast, toast
    assert wrong not in toast and wrong not in page.content()


def test_a_connection_without_a_port(page, emulator):
    """Airflow 3.3's Test button posts an empty Port as 0 and its endpoint refuses that for a stored
    connection without a port (a bare "Bad Request"). The form asks for the port; with it the same
    connection tests. This test pins both halves of what docs/deploy.md says."""
    conn_id = f"e2e_xcally_no_port_{RUN}"
    dialog = open_add_form(page, "xcally")
    assert "Test button" in field_group(dialog, "Port").first.locator("label").first.inner_text()
    fill_connection(page, dialog, "xcally", conn_id, emulator, port=False)
    save(page, dialog, conn_id)
    status, body, _toast = run_test(page, conn_id)
    shot(page, "test-no-port")
    assert status == 400 and "differs from the stored connection" in body["detail"], body
    # the workaround: fill in the port, test again
    page.goto(f"{API}/connections")
    row_of(page, conn_id).get_by_role("button", name="Edit Connection").click()
    dialog = page.locator("[role=dialog]")
    dialog.locator("input[name=port]").fill(emulator["xcally"]["base_url"].rsplit(":", 1)[1])
    submit(page, dialog, "PATCH", conn_id)
    status, body, toast = run_test(page, conn_id)
    assert status == 200 and body["status"] is True and repr(conn_id) in toast, (body, toast)


def open_details(page: Any, dag_id: str, run_id: str, task_id: str) -> None:
    """The task instance's Details tab, where the UI lists its extra links."""
    page.goto(f"{API}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
    page.get_by_role("tab", name="Details").or_(page.get_by_role("link", name="Details", exact=True)).first.click()


def test_finished_tasks_show_their_extra_links(page):
    """The demo ran with a connection that sets link templates: CreateCampaign and UploadList show
    'Dialer campaign' / 'Dialer list' pointing where the templates say."""
    links = json.loads((WORK / "links.json").read_text())
    for task_id, expected in links["expected"].items():
        open_details(page, links["dag_id"], links["run_id"], task_id)
        for name, url in expected.items():
            link = page.locator("a", has_text=name)
            link.first.wait_for()
            assert link.first.get_attribute("href") == url, (task_id, name)
        shot(page, f"links-{task_id}")


def test_the_run_report_link_opens_the_published_report(page):
    """An upload that wrote its run report where a web server publishes it (``run_report_url``): its
    Details show **Run report** pointing there, and clicking it opens the report in a new tab, with
    the upload's counts and a chart per time zone."""
    report = json.loads((WORK / "links.json").read_text())["report"]
    open_details(page, report["dag_id"], report["run_id"], report["task_id"])
    link = page.locator("a", has_text="Run report").first
    link.wait_for()
    shot(page, "links-run-report")
    assert link.get_attribute("href") == report["url"]
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    shot(tab, "run-report-opened")
    assert tab.url == report["url"]
    assert tab.title().startswith("Dialer run report")
    summary = report["summary"]
    for outcome in ("read", "accepted", "rejected"):
        assert tab.locator(f"tr[data-outcome={outcome}] td.n").inner_text() == str(summary[outcome]), outcome
    zones = sorted(
        tab.locator("svg.hours").nth(i).get_attribute("data-zone") for i in range(tab.locator("svg.hours").count())
    )
    assert zones == sorted(summary["scheduled_by_timezone"]) and zones


def test_a_run_report_link_to_a_file_is_not_shown(page):
    """Without ``run_report_url`` the link is the report's ``file://`` address. Airflow 3.3's UI lists
    only http(s) and mailto links of another origin, so the task's Details do not show it (the REST
    API still returns it); docs/observability.md says so and what to set instead."""
    report = json.loads((WORK / "links.json").read_text())["report"]
    assert report["file"]["url"].startswith("file:///")  # what the task recorded (checked through REST)
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/taskInstances/upload/links")) as got:
        open_details(page, report["dag_id"], report["file"]["run_id"], report["task_id"])
    assert got.value.json()["extra_links"]["Run report"] == report["file"]["url"]  # the UI got it...
    page.get_by_text("Extra Links", exact=True).wait_for()  # ...and drew the links section
    shot(page, "links-run-report-file")
    assert page.locator("a", has_text="Run report").count() == 0
    assert page.locator('a[href^="file:"]').count() == 0


@pytest.mark.parametrize("logical_date", ["as the form fills it", "cleared"])
def test_a_run_triggered_from_the_ui_succeeds(page, logical_date):
    """The UI's Trigger button on an example that names its list by the run's date. Airflow 3.3's form
    fills in Logical Date with the current time (the data interval is then inferred from it); a user
    may clear it, and the run then has no logical date and no data interval. Both runs succeed."""
    import time

    import httpx

    dag_id = "dialer_multi_timezone"
    page.goto(f"{API}/dags/{dag_id}")
    page.get_by_role("button", name=re.compile("^Trigger")).first.click()
    dialog = page.locator("[data-scope=dialog][data-part=content][data-state=open]")
    dialog.wait_for()
    date_field = dialog.locator("[data-testid=datetime-input]")
    assert re.search(r"\d{4}", date_field.inner_text()), "the form no longer fills in the logical date"
    if logical_date == "cleared":  # the date picker's own Clear button
        date_field.click()
        picker = page.locator("[data-scope=popover][data-part=content][data-state=open]")
        picker.get_by_role("button", name="Clear start date").click()
        dialog.get_by_text(f"Trigger Dag - {dag_id}").click()  # closes the picker
        picker.wait_for(state="hidden")
    shot(page, f"trigger-dialog-{logical_date.replace(' ', '-')}")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/api/v2/dags/{dag_id}/dagRuns")
    ) as answer:
        dialog.get_by_role("button", name=re.compile("^Trigger")).last.click()
    assert answer.value.status == 200, answer.value.text()
    sent, run = answer.value.request.post_data_json, answer.value.json()
    if logical_date == "cleared":
        assert sent.get("logical_date") is None and run["logical_date"] is None, (sent, run)
        assert run["data_interval_end"] is None, run
    else:
        assert run["logical_date"] is not None, (sent, run)
    token = httpx.post(f"{API}/auth/token", json={"username": "admin", "password": os.environ["DIALER_E2E_PASSWORD"]})
    rest = httpx.Client(base_url=f"{API}/api/v2", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    deadline = time.monotonic() + 300
    while (state := rest.get(f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}").json()["state"]) not in (
        "success",
        "failed",
    ):
        assert time.monotonic() < deadline, f"{dag_id} {run['dag_run_id']} still {state}"
        time.sleep(2)
    tis = rest.get(f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances").json()["task_instances"]
    assert state == "success", {ti["task_id"]: ti["state"] for ti in tis}
    upload = rest.get(f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/upload/xcomEntries/return_value")
    value = upload.json()["value"]
    summary = json.loads(value) if isinstance(value, str) else value
    assert summary["read"] > 0 and summary["accepted"] > 0 and summary["unknown"] == 0, summary

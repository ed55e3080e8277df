"""AddToDialerTaskOperator: one uContact Integra ``DialerTask`` record per lead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.capabilities import ChunkOutcome, DialerTaskAdder
from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
    DialerRejectedError,
    DialerTransportError,
)
from airflow_provider_dialer.operators.base import LeadsOperator
from airflow_provider_dialer.run_report import RunReportLink

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead


class AddToDialerTaskOperator(LeadsOperator):
    """Add each lead to a uContact dialer with Integra ``DialerTask``: campaign, destination,
    alternatives, ``calldate`` (the lead's next permitted time, in the instance's timezone), agent
    and data; every key present; form-encoded exactly as documented; bounded concurrency.

    Integra has no read of queued tasks, so a record whose answer was lost (or answered with a 5xx
    that may have been applied) is reported ``unknown`` (never resent). Chunks are sent record by
    record; ``chunk_size`` bounds how many records a task killed mid-chunk can leave ``unknown``. A
    record the vendor provably did not take (429 or 503 after every retry, a refused login) stops
    the chunk there and fails the task; the retry sends only the records after the last that landed.

    All ``LeadsOperator`` parameters apply, plus:

    :param campaign: the dialer campaign name, verbatim (e.g. ``"POWER<-"``).
    :param source_label: the ``source`` key of each record (default ``"airflow"``).
    :param bulk: the ``bulk`` key (default False). :param automatic: the ``automatic`` key (default True).

    .. code-block:: python

        AddToDialerTaskOperator(task_id="dialer_task", conn_id="ucontact_default",
                                campaign="POWER<-", source="{{ dag_run.conf['leads'] }}")
    """

    template_fields: Sequence[str] = (*LeadsOperator.template_fields, "campaign", "source_label")
    operator_extra_links = (RunReportLink(),)
    capability = DialerTaskAdder
    capability_label = "DialerTask (Integra)"

    def __init__(
        self,
        *,
        campaign: str,
        source_label: str = "airflow",
        bulk: bool = False,
        automatic: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.source_label = source_label
        self.bulk = bulk
        self.automatic = automatic

    def open_target(self, hook: Any) -> dict[str, Any]:
        return {"campaign": self.campaign}

    def default_chunk_size(self, hook: Any, target: dict[str, Any]) -> int:
        return 25

    def per_lead_schedule(self, hook: Any, target: dict[str, Any]) -> bool:
        return True  # calldate carries each lead's time

    def send_chunk(self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        from airflow_provider_dialer.delivery import NOT_APPLIED, ChunkInterruptedError

        outcome = ChunkOutcome()
        settings = {
            "campaign": target["campaign"],
            "source": self.source_label,
            "bulk": self.bulk,
            "automatic": self.automatic,
        }
        for index, lead in enumerate(leads):
            try:
                hook.add_dialer_task_lead(lead, settings)
            except DialerRejectedError as exc:
                outcome.refused.append({"row": lead.row, "reason": "vendor_refused", "detail": exc.body[:200]})
                continue
            except DialerDeliveryUnknownError:
                outcome.unknown.append(lead.row)
                continue
            except DialerHTTPError as exc:
                if exc.status in NOT_APPLIED or isinstance(exc, DialerAuthError):
                    # this record was not taken, the ones before it were: stop here, resume here on retry
                    raise ChunkInterruptedError(outcome, [later.row for later in leads[index:]], exc) from None
                outcome.unknown.append(lead.row)  # a 5xx may have been applied: never resent
                continue
            except DialerTransportError as exc:  # never sent (connection refused after every retry)
                raise ChunkInterruptedError(outcome, [later.row for later in leads[index:]], exc) from None
            outcome.accepted += 1
        return outcome

    def resolve_chunk(
        self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return None  # Integra offers no read of queued DialerTask records

"""Every write of backorders, one module per topic; import from here."""

from .consent import backorder_date_accept
from .lifecycle import (
    ALLOWED_TRANSITIONS,
    S,
    backorder_cancel_units,
    backorder_event_record,
    backorder_status_for,
    backorder_transition,
    backorders_create,
    backorders_mark_fulfilled,
    newcomer_promises,
)
from .policy import policy_activate, policy_active, policy_scores_recompute
from .priority import backorder_priority_change, backorder_reallocate
from .requests import (
    allocation_request,
    allocation_request_for_products,
    allocation_run,
    allocation_run_reset,
    eta_recompute_run,
    eta_request,
    work_request_done,
    work_request_token,
    work_requests_record,
    work_requests_resend,
)
from .sla import backorder_sla_breach, backorders_sla_enforce

__all__ = [
    "ALLOWED_TRANSITIONS",
    "S",
    "allocation_request",
    "allocation_request_for_products",
    "allocation_run",
    "allocation_run_reset",
    "backorder_cancel_units",
    "backorder_date_accept",
    "backorder_event_record",
    "backorder_priority_change",
    "backorder_reallocate",
    "backorder_sla_breach",
    "backorder_status_for",
    "backorder_transition",
    "backorders_create",
    "backorders_mark_fulfilled",
    "eta_recompute_run",
    "backorders_sla_enforce",
    "eta_request",
    "newcomer_promises",
    "policy_activate",
    "policy_active",
    "policy_scores_recompute",
    "work_request_done",
    "work_request_token",
    "work_requests_record",
    "work_requests_resend",
]

"""The dashboard reads as words: filters with human empty choices, enum values as labels in the timeline and the
queue, ages that are real, and demo data spread over weeks."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from backorders.models import BackorderEvent
from dashboard.series import aging_buckets, opened_closed_per_day
from dashboard.timeline import eta_change_text
from tests.dashboard.test_views import PAGES
from tests.orders.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def waiting(make_product, place):
    make_product(sku="DESK-STAND-160", unit_price="100.00")
    order = place({"DESK-STAND-160": 2}, customer=CustomerFactory(tier="gold", name="Goldie"))
    return order.backorders.get()


@pytest.mark.parametrize("url", [*PAGES, "/terms/"])
def test_no_raw_empty_choice_on_any_page(staff, waiting, url):
    html = staff.get(url).content.decode()
    assert "---------" not in html


def test_queue_filters_say_any(staff, waiting):
    html = staff.get("/backorders/").content.decode()
    for label in ("Any tier", "Any priority", "Any basis", "Any reason", "Any SLA"):
        assert f'<option value="" selected>{label}</option>' in html or f'<option value="">{label}</option>' in html
    assert '<option value="all">Any status</option>' in html
    assert ">Lead time (estimate)</option>" in html  # the filter's short labels, same values


def test_queue_rows_show_labels_and_real_ages(staff, waiting):
    type(waiting).objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(days=10))
    html = staff.get("/backorders/").content.decode()
    assert '<div class="tier">Gold' in html
    assert "<td>1\xa0week, 3\xa0days</td>" in html  # the age column (was always "today")
    assert '<span class="mono">DESK-STAND-160</span>' in html
    assert f'<div class="small muted mono">{waiting.order.number}</div>' in html


def test_timeline_reads_as_words(staff, waiting):
    BackorderEvent.objects.create(
        backorder=waiting,
        kind=BackorderEvent.Kind.ETA_CHANGED,
        message="Expected date none → 2031-12-09 (purchase_order).",
        data={"old": None, "new": "2031-12-09", "basis": "purchase_order", "old_basis": "none"},
    )
    BackorderEvent.objects.create(
        backorder=waiting,
        kind=BackorderEvent.Kind.PRIORITY_CHANGED,
        message="Priority normal → critical: hospital",
        data={"old": "normal", "new": "critical", "reason": "hospital"},
    )
    html = staff.get(f"/backorders/{waiting.pk}/").content.decode()
    timeline = html.split('<ol class="timeline">')[1].split("</ol>")[0]
    assert "Expected 9 Dec 2031 from an incoming purchase order." in timeline
    assert "Priority Normal → Critical: hospital" in timeline
    for raw in ("purchase_order", "lead_time", "eta_basis", "(none)"):
        assert raw not in timeline


def test_eta_change_text_names_the_purchase_order_and_the_basis():
    this_year = timezone.localdate().year
    day = date(this_year, 12, 9).isoformat()
    assert (
        eta_change_text({"new": day, "old": None, "basis": "purchase_order"}, po_number="PO-7")
        == "Expected 9 Dec from purchase order PO-7."
    )
    assert eta_change_text({"new": day, "old": f"{this_year}-12-02", "basis": "lead_time"}) == (
        "Expected 9 Dec, estimated from the supplier's lead time (was 2 Dec)."
    )
    assert eta_change_text({"new": None, "old": day, "basis": "none"}).startswith("No expected date yet")


def test_created_event_says_the_promise_in_words(waiting):
    created = waiting.events.get(kind="created")
    assert "lead_time" not in created.message and "purchase_order" not in created.message
    assert "(none)" not in created.message


def test_demo_data_spreads_over_weeks_and_every_aging_bucket(django_capture_on_commit_callbacks):
    with (
        override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("seed_demo", "--if-empty")
    buckets = aging_buckets()
    assert [b["label"] for b in buckets] == ["0–7 days", "8–14 days", "15–30 days", ">30 days"]
    assert all(b["count"] >= 2 for b in buckets), buckets
    days_with_new_backorders = [d for d in opened_closed_per_day(days=90) if d["opened"]]
    assert (days_with_new_backorders[-1]["day"] - days_with_new_backorders[0]["day"]).days >= 28
    assert sum(1 for d in opened_closed_per_day(days=90) if d["closed"]) >= 2  # closed on several days
    from fulfilment.integrity import integrity_problems

    assert integrity_problems() == []

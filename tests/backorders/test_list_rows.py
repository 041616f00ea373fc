"""The backorder list renders plain rows (core.serializer_rows): its body is byte for byte what
BackorderOutputSerializer gives for the same backorders as model instances, with the same queue positions, order and
pagination (docs/performance.md, "Reads at volume")."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from backorders import selectors
from backorders.models import Backorder
from backorders.serializers import BackorderOutputSerializer
from tests.backorders.test_api import BACKORDERS, place_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(make_product, channel_key):
    """Backorders in every status, with and without a channel, an SLA, a dated ETA, odd scores and times."""
    channel = channel_key[0]
    channel.max_priority = "critical"
    channel.save(update_fields=["max_priority"])
    for sku in ("V-1", "V-2", "V-3"):
        make_product(sku=sku)
    orders = [
        place_for(channel, {"V-1": 2, "V-2": 1}),
        place_for(None, {"V-1": 3}),
        place_for(channel, {"V-1": 1, "V-3": 4}, priority="critical"),
        place_for(None, {"V-2": 5, "V-3": 2}),
        place_for(channel, {"V-1": 7}),
        place_for(None, {"V-3": 1}),
    ]
    rows = list(Backorder.objects.filter(order__in=orders).order_by("pk"))
    utc = ZoneInfo("UTC")
    Backorder.objects.filter(pk=rows[0].pk).update(
        status="partially_allocated", quantity_allocated=1, eta=date(2031, 3, 4), eta_basis="lead_time",
        eta_expected=date(2031, 3, 1), eta_confidence=0.875, reason="quality_hold", priority_score=Decimal("12.5"),
        sla_due_at=datetime(2031, 6, 30, 22, 15, 1, 5, tzinfo=utc), sla_breached=True,
    )  # fmt: skip
    Backorder.objects.filter(pk=rows[1].pk).update(
        status="fulfilled", quantity_allocated=F_quantity(), fulfilled_at=datetime(2031, 1, 1, tzinfo=utc),
        allocated_at=datetime(2030, 12, 31, 23, 59, 59, tzinfo=utc),
    )  # fmt: skip
    Backorder.objects.filter(pk=rows[2].pk).update(
        status="cancelled", quantity_cancelled=F_quantity(), cancelled_at=datetime(2031, 2, 2, 12, tzinfo=utc)
    )
    Backorder.objects.filter(pk=rows[3].pk).update(status="allocated", quantity_allocated=F_quantity())
    Backorder.objects.filter(pk=rows[4].pk).update(
        eta=date(2031, 5, 6), eta_basis="purchase_order", priority_score=Decimal("0.0001"), reason="demand_spike"
    )
    return rows


def F_quantity():  # noqa: N802 — reads like the column it copies
    from django.db.models import F

    return F("quantity")


def _expected_body(response_json, ids, *, channel=None):
    by_pk = {b.pk: b for b in selectors.backorder_list(channel=channel).filter(pk__in=ids)}
    page = selectors.queue_positions_set([by_pk[pk] for pk in ids])
    return {
        "count": response_json["count"],
        "next": response_json["next"],
        "previous": response_json["previous"],
        "results": BackorderOutputSerializer(page, many=True).data,
    }


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Chatham"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sku": "V-1"},
        {"page_size": 3, "page": 2},
        {"ordering": "-created_at"},
        {"ordering": "eta"},
        {"status": ["open", "partially_allocated"]},
        {"reason": ["quality_hold", "demand_spike"]},
        {"eta_basis": "lead_time"},
        {"has_sla": "true"},
    ],
)
def test_list_body_is_the_serializers_on_instances(varied, staff_client, params, zone):
    with timezone.override(ZoneInfo(zone)):
        response = staff_client.get(BACKORDERS, params)
        assert response.status_code == 200, response.content
        body = response.json()
        ids = [row["id"] for row in body["results"]]
        assert ids, params
        assert response.content == JSONRenderer().render(_expected_body(body, ids))


def test_channel_list_body_is_the_serializers_on_instances(varied, channel_client, channel_key):
    response = channel_client.get(BACKORDERS, {"page_size": 2})
    body = response.json()
    ids = [row["id"] for row in body["results"]]
    assert body["count"] == Backorder.objects.filter(order__channel=channel_key[0]).count() and len(ids) == 2
    assert response.content == JSONRenderer().render(_expected_body(body, ids, channel=channel_key[0]))


def test_long_page_query_count_is_fixed(varied, staff_client, django_assert_max_num_queries, make_product):
    with django_assert_max_num_queries(4):
        first = staff_client.get(BACKORDERS, {"page_size": 500}).json()
    for _ in range(12):
        place_for(None, {"V-2": 1, "V-3": 1})
    with django_assert_max_num_queries(4):
        second = staff_client.get(BACKORDERS, {"page_size": 500}).json()
    assert len(second["results"]) == len(first["results"]) + 24


def test_times_follow_the_active_zone(varied, staff_client):
    # Sanity of the comparison above: the zone is really applied (a row's SLA date is rendered in it).
    sla = Backorder.objects.get(pk=varied[0].pk).sla_due_at
    with timezone.override(ZoneInfo("Pacific/Chatham")):
        row = next(r for r in staff_client.get(BACKORDERS).json()["results"] if r["id"] == varied[0].pk)
    assert row["sla_due_at"] == sla.astimezone(ZoneInfo("Pacific/Chatham")).isoformat()
    assert not row["sla_due_at"].endswith("Z") and sla + timedelta(0) == datetime.fromisoformat(row["sla_due_at"])


def test_several_reasons_list_those_backorders_in_queue_order(varied, staff_client):
    # ?reason=a&reason=b (none a stockout) walks backorder_rare_reason_idx; the same rows and order as the queue.
    expected = list(
        Backorder.objects.filter(reason__in=["quality_hold", "demand_spike"])
        .order_by(*Backorder.QUEUE_ORDER)
        .values_list("pk", flat=True)
    )
    response = staff_client.get(BACKORDERS, {"reason": ["quality_hold", "demand_spike"]})
    assert [row["id"] for row in response.json()["results"]] == expected and len(expected) == 2

"""core.serializer_rows renders rows read with .values() exactly as the serializer renders the model instances."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from core.serializer_rows import ValuesRenderer
from orders.models import Order

pytestmark = pytest.mark.django_db


class _ChannelOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class _CustomerOut(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.EmailField()


class _OrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    placed_at = serializers.DateTimeField()
    channel_code = serializers.CharField(source="channel.code", allow_null=True, default=None)
    channel = _ChannelOut(allow_null=True)
    customer = _CustomerOut()
    lines = serializers.IntegerField(source="lines_count")


def _orders(place, make_product, channel_key):
    make_product(sku="R-1", stock=10)
    placed = [place({"R-1": 1}), place({"R-1": 2}, channel=channel_key[0])]
    # Microseconds, a time in summer and one in winter: what a time zone conversion and isoformat must keep.
    Order.objects.filter(pk=placed[0].pk).update(
        placed_at=datetime(2031, 7, 1, 23, 30, 0, 123456, tzinfo=ZoneInfo("UTC"))
    )
    Order.objects.filter(pk=placed[1].pk).update(placed_at=datetime(2031, 1, 1, 0, 0, tzinfo=ZoneInfo("UTC")))
    return Order.objects.filter(pk__in=[o.pk for o in placed]).order_by("pk")


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_rows_render_as_the_serializer_renders_instances(place, make_product, channel_key, zone):
    from django.db.models import Count

    orders = _orders(place, make_product, channel_key).annotate(lines_count=Count("lines"))
    renderer = ValuesRenderer(_OrderOut)
    with timezone.override(ZoneInfo(zone)):
        expected = _OrderOut(orders.select_related("channel", "customer"), many=True).data
        got = renderer.render_many(orders.values(*renderer.lookups))
    assert got == expected
    assert [list(row) for row in got] == [list(row) for row in expected]  # the same keys in the same order
    assert got[0]["channel"] is None and got[0]["channel_code"] is None and got[1]["channel"]["code"] == "web-shop"


def test_values_of_other_types_go_through_the_field():
    class Out(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=8, decimal_places=2)
        day = serializers.DateField()
        share = serializers.FloatField()
        count = serializers.IntegerField()
        label = serializers.CharField()
        flag = serializers.BooleanField()
        twice = serializers.IntegerField()

    renderer = ValuesRenderer(Out, computed={"twice": lambda row: row["count"] * 2})
    row = {"amount": Decimal("3.1"), "day": date(2031, 2, 3), "share": 1, "count": True, "label": 7, "flag": 0}
    expected = Out({**row, "twice": row["count"] * 2}).data
    assert renderer.render_many([row]) == [expected]
    assert expected == {
        "amount": "3.10", "day": "2031-02-03", "share": 1.0, "count": 1, "label": "7", "flag": False, "twice": 2,
    }  # fmt: skip
    assert type(renderer.render_many([row])[0]["count"]) is int


def test_what_has_no_column_is_refused():
    class WithMethod(serializers.Serializer):
        x = serializers.SerializerMethodField()

        def get_x(self, obj):
            return 1

    class WithList(serializers.Serializer):
        items = _ChannelOut(many=True)

    for serializer_class in (WithMethod, WithList):
        with pytest.raises(TypeError):
            ValuesRenderer(serializer_class)
    assert ValuesRenderer(WithMethod, computed={"x": lambda row: 1}).render_many([{}]) == [{"x": 1}]

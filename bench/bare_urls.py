"""The bare endpoint: the floor for order intake on this stack (Django + DRF on the same settings), doing the same
database work as an in-stock order of the product and nothing else: lock the stock rows of the SKUs (pk order),
find the customer, insert the order (with its idempotency key), its lines and their allocations, move the stock
counters; one plain statement each, no validation beyond parsing, no rules, no response serializer.

Served only by bench/orders.py (DJANGO_SETTINGS_MODULE=bare_settings); never part of the product.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.db import connection, transaction
from django.urls import path
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.sql import insert_sql
from orders.models import Allocation, Order, OrderLine

LOCK = (
    "SELECT s.id, s.product_id, p.sku, s.on_hand - s.allocated, p.unit_price FROM inventory_stockitem s"
    " JOIN inventory_product p ON p.id = s.product_id WHERE p.sku = ANY(%s) ORDER BY s.id FOR NO KEY UPDATE OF s"
)


class BareOrderView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    throttle_classes: list = []

    def post(self, request):
        data = request.data
        wanted = {line["sku"]: int(line["quantity"]) for line in data["lines"]}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(LOCK, [sorted(wanted)])
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT id FROM orders_customer WHERE channel_id IS NULL AND external_id = %s",
                [data["customer"]["external_id"]],
            )
            found = cursor.fetchone()
            if found is None:
                cursor.execute(
                    "INSERT INTO orders_customer (external_id, email, name, tier, lifetime_value, created_at)"
                    " VALUES (%s, %s, %s, 'standard', 0, now()) ON CONFLICT DO NOTHING RETURNING id",
                    [data["customer"]["external_id"], data["customer"]["email"], data["customer"]["name"]],
                )
                found = cursor.fetchone()
            order = Order(
                number=f"SO-{secrets.token_hex(6)}",
                customer_id=found[0],
                placed_at=timezone.now(),
                total=sum((price * wanted[sku] for _, _, sku, _, price in rows), Decimal("0")),
                idempotency_key=secrets.token_hex(8),
            )
            sql, params = insert_sql([order])
            cursor.execute(sql, params)
            order.pk = cursor.fetchone()[0]
            lines, picks = [], []
            for item_id, product_id, sku, _free, price in rows:
                lines.append(
                    OrderLine(
                        order=order,
                        product_id=product_id,
                        quantity=wanted[sku],
                        unit_price=price,
                        quantity_allocated=wanted[sku],
                    )
                )
                picks.append((item_id, wanted[sku]))
            sql, params = insert_sql(lines, returning=("id",))
            cursor.execute(sql, params)
            line_ids = [row[0] for row in cursor.fetchall()]
            sql, params = insert_sql(
                [
                    Allocation(order_line_id=lid, stock_item_id=i, quantity=q)
                    for lid, (i, q) in zip(line_ids, picks, strict=True)
                ]
            )
            cursor.execute(sql, params)
            cursor.execute(
                "UPDATE inventory_stockitem s SET allocated = s.allocated + x.q"
                " FROM unnest(%s::bigint[], %s::integer[]) AS x(id, q) WHERE s.id = x.id",
                [[i for i, _ in picks], [q for _, q in picks]],
            )
        return Response({"number": order.number}, status=201)


urlpatterns = [path("api/v1/orders/", BareOrderView.as_view())]

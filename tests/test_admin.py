import pytest
from django.contrib import admin
from django.urls import reverse

from backorders.models import AllocationPolicy, Backorder, BackorderEvent
from fulfilment.services import order_ship
from inventory.models import Product, StockItem, StockMovement, Warehouse
from orders.models import Allocation, ApiKey, Customer, Order, SalesChannel, Shipment
from orders.services import api_key_create

pytestmark = pytest.mark.django_db

MODELS = [
    Product,
    Warehouse,
    StockItem,
    StockMovement,
    Customer,
    SalesChannel,
    ApiKey,
    Order,
    Shipment,
    Allocation,
    Backorder,
    BackorderEvent,
    AllocationPolicy,
]


@pytest.fixture
def data(make_product, place):
    make_product(sku="A-1", stock=5)
    make_product(sku="B-1", stock=1)
    shipped = place({"A-1": 1})
    order_ship(order=shipped)
    waiting = place({"A-1": 2, "B-1": 3})
    api_key_create(channel_code="web-shop")
    return {"shipped": shipped, "waiting": waiting}


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_page_render(data, admin_client, model):
    assert admin.site.is_registered(model)
    assert model.objects.exists()
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    response = admin_client.get(url(model, "changelist"), {"q": "A-1"})
    assert response.status_code == 200
    response = admin_client.get(url(model, "change", model.objects.first().pk))
    assert response.status_code == 200


def test_ledger_cannot_be_added_changed_or_deleted(data, admin_client):
    movement = StockMovement.objects.first()
    assert admin_client.get(url(StockMovement, "add")).status_code == 403
    response = admin_client.post(url(StockMovement, "change", movement.pk), {"quantity": 999, "reason": "fiddle"})
    assert response.status_code == 403
    assert admin_client.post(url(StockMovement, "delete", movement.pk), {"post": "yes"}).status_code == 403
    movement.refresh_from_db()
    assert movement.quantity != 999
    page = admin_client.get(url(StockMovement, "change", movement.pk)).content.decode()
    assert 'name="quantity"' not in page


def test_stock_quantities_are_not_editable(data, admin_client):
    item = StockItem.objects.get(product__sku="A-1")
    page = admin_client.get(url(StockItem, "change", item.pk)).content.decode()
    assert 'name="on_hand"' not in page and 'name="allocated"' not in page
    assert "Adjust stock" in admin_client.get(url(StockItem, "changelist")).content.decode()
    before = (item.on_hand, item.allocated)
    admin_client.post(url(StockItem, "change", item.pk), {"on_hand": 999, "allocated": 0, "movements-TOTAL_FORMS": 0})
    item.refresh_from_db()
    assert (item.on_hand, item.allocated) == before


def test_adjustment_through_the_admin_writes_a_movement(data, admin_client, admin_user):
    item = StockItem.objects.get(product__sku="A-1")
    adjust = reverse("admin:inventory_stockitem_adjust", args=[item.pk])
    assert admin_client.get(adjust).status_code == 200
    response = admin_client.post(adjust, {"quantity": 7, "reason": "cycle count", "reference": "CC-1"})
    assert response.status_code == 302
    movement = StockMovement.objects.latest("id")
    assert (movement.kind, movement.quantity, movement.reason, movement.created_by) == (
        "adjustment",
        7,
        "cycle count",
        admin_user,
    )
    item.refresh_from_db()
    assert item.on_hand == 11

    count = StockMovement.objects.count()
    for bad in ({"quantity": 0, "reason": "x"}, {"quantity": -100, "reason": "x"}, {"quantity": 3, "reason": ""}):
        response = admin_client.post(adjust, bad)
        assert response.status_code == 200  # the form again, with the error
    assert StockMovement.objects.count() == count
    assert "only" in admin_client.post(adjust, {"quantity": -100, "reason": "x"}).content.decode()


def test_adjust_action_redirects_to_the_form(data, admin_client):
    item = StockItem.objects.get(product__sku="A-1")
    response = admin_client.post(
        url(StockItem, "changelist"), {"action": "adjust_selected", "_selected_action": [item.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:inventory_stockitem_adjust", args=[item.pk])


def test_order_actions_call_the_services(data, admin_client):
    waiting = data["waiting"]
    response = admin_client.post(
        url(Order, "changelist"), {"action": "ship_selected", "_selected_action": [waiting.pk]}, follow=True
    )
    assert response.status_code == 200
    waiting.refresh_from_db()
    assert waiting.status == "partially_shipped"
    response = admin_client.post(
        url(Order, "changelist"), {"action": "cancel_selected", "_selected_action": [waiting.pk]}, follow=True
    )
    waiting.refresh_from_db()
    assert waiting.status == "shipped"  # the waiting units were cancelled, the shipped ones stay shipped
    assert Backorder.objects.get(order=waiting).status == "cancelled"
    # a closed order is refused with a message, not an error page
    response = admin_client.post(
        url(Order, "changelist"), {"action": "cancel_selected", "_selected_action": [waiting.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "cannot be cancelled" in response.content.decode()


def test_backorder_cancel_action(data, admin_client):
    backorder = Backorder.objects.get(order=data["waiting"])
    admin_client.post(url(Backorder, "changelist"), {"action": "cancel_selected", "_selected_action": [backorder.pk]})
    backorder.refresh_from_db()
    assert backorder.status == "cancelled"
    assert backorder.events.filter(kind="cancelled").exists()


def test_product_change_in_admin_goes_through_the_service(data, admin_client):
    product = Product.objects.get(sku="B-1")
    response = admin_client.post(
        url(Product, "change", product.pk),
        {"name": "B renamed", "unit_price": "10.00", "status": "discontinued", "backorderable": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert (product.name, product.status) == ("B renamed", "discontinued")
    assert Backorder.objects.get(product=product).status == "cancelled"


def test_api_key_created_in_admin_is_shown_once_and_works(db, admin_client, make_product):
    channel = SalesChannel.objects.create(code="portal", name="Portal")
    response = admin_client.post(url(ApiKey, "add"), {"channel": channel.pk, "name": "prod"}, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    raw = messages[0].rsplit(" ", 1)[-1]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/api/v1/products/").status_code == 200
    assert ApiKey.objects.get().hashed_key != raw


def test_activating_a_policy_retires_the_other(db, admin_client):
    old = AllocationPolicy.objects.create(name="Old", is_active=True)
    response = admin_client.post(
        url(AllocationPolicy, "add"),
        {
            "name": "New",
            "is_active": "on",
            "standard_weight": "0",
            "silver_weight": "5",
            "gold_weight": "10",
            "platinum_weight": "50",
            "lifetime_value_weight": "1",
            "lifetime_value_cap": "9",
        },
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert not old.is_active
    assert AllocationPolicy.objects.get(is_active=True).name == "New"

"""The import, template and export endpoints: staff only, per-kind permissions, formats, formula-safe exports."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from exchange.models import ImportJob
from inventory.models import Product

pytestmark = pytest.mark.django_db


def upload(client, kind, text, *, name="file.csv", **extra):
    data = {"kind": kind, "file": SimpleUploadedFile(name, text.encode()), **extra}
    return client.post("/api/v1/imports/", data, format="multipart")


def test_import_through_the_api_reports_progress_and_errors(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(staff_client, "products", "sku,name,unit_price\nA-1,Chair,10\nA-2,Desk,oops\n")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    job = staff_client.get(f"/api/v1/imports/{job_id}/").json()
    assert (job["status"], job["phase"], job["rows_total"], job["rows_done"]) == ("refused", "done", 2, 2)
    assert job["errors"] == [
        {"row": 3, "column": "unit_price", "code": "not_a_number", "message": "'oops' is not a number."}
    ]
    assert not Product.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            staff_client, "products", "sku,name,unit_price\nA-1,Chair,10\nA-2,Desk,oops\n", partial="true"
        )
    assert response.status_code == 202, response.content
    job = staff_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (job["status"], job["created"], job["refused"]) == ("partial", 1, 1)
    listed = staff_client.get("/api/v1/imports/").json()["results"]
    assert [row["id"] for row in listed][:2] == [job["id"], job_id]


def test_json_body_and_dry_run(staff_client, django_capture_on_commit_callbacks):
    body = {"kind": "products", "format": "csv", "content": "sku;name;unit_price\nJ-1;Json;1,50\n", "dry_run": True}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/v1/imports/", body, format="json")
    assert response.status_code == 202, response.content
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.dry_run) == ("succeeded", 1, True)
    assert job.message.startswith("Dry run")
    assert not Product.objects.exists()


def test_bad_requests_are_problems_and_write_nothing(staff_client, channel_client, bare_staff_client):
    assert upload(channel_client, "products", "sku\nA\n").status_code == 403
    response = upload(bare_staff_client, "products", "sku\nA\n")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    response = upload(staff_client, "nonsense", "sku\nA\n")
    assert response.status_code == 400 and "kind" in response.json()["errors"]
    response = upload(staff_client, "products", "sku\nA\n", name="file.pdf")
    assert response.status_code == 422 and response.json()["details"]["field"] == "format"
    assert ImportJob.objects.count() == 0
    assert staff_client.get("/api/v1/imports/999999/").status_code == 404
    both = {"kind": "products", "format": "xlsx", "content": "x"}
    assert staff_client.post("/api/v1/imports/", both, format="json").status_code == 400  # XLSX: multipart only


def test_a_kind_needs_the_permissions_of_what_it_writes(django_user_model):
    from rest_framework.test import APIClient

    from tests.conftest import role_group

    user = django_user_model.objects.create_user("wh", "wh@example.com", "x", is_staff=True)
    user.groups.add(role_group("Warehouse lead"))
    client = APIClient()
    client.force_authenticate(user)
    assert upload(client, "products", "sku,name,unit_price\nA,B,1\n").status_code == 403
    assert upload(client, "stock_counts", "sku,warehouse,counted\nA,MAIN,1\n").status_code == 202


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "jsonl"])
def test_templates_per_kind(staff_client, file_format):
    response = staff_client.get("/api/v1/imports/templates/stock_counts/", {"format": file_format})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    if file_format == "csv":
        assert response.content.decode("utf-8-sig").splitlines()[0] == "sku,warehouse,counted"
    elif file_format == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert [c.value for c in next(sheet.iter_rows())] == ["sku", "warehouse", "counted"]
    else:
        assert set(json.loads(response.content.splitlines()[0])) == {"sku", "warehouse", "counted"}
    assert staff_client.get("/api/v1/imports/templates/nope/").status_code == 404


def test_exports_are_streamed_and_formula_safe(staff_client, make_product, place):
    make_product(stock=2, sku="SAFE-1", name='=HYPERLINK("http://evil")')
    make_product(sku="SAFE-2", name="@SUM(A1)")
    response = staff_client.get("/api/v1/exports/products/", {"format": "csv"})
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    response = staff_client.get("/api/v1/exports/products/", {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert cells == ['\'=HYPERLINK("http://evil")', "'@SUM(A1)"]
    assert all(cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row[1:2])
    response = staff_client.get("/api/v1/exports/products/", {"format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert lines[0]["name"] == '=HYPERLINK("http://evil")'  # JSON is data, not a spreadsheet


def test_exports_of_every_kind_and_updated_since(staff_client, make_product, place):
    product = make_product(stock=1, sku="EX-1")
    place({product.sku: 3})
    for kind in [
        "products",
        "suppliers",
        "supplier_products",
        "stock_counts",
        "purchase_orders",
        "customers",
        "open_orders",
        "orders",
        "backorders",
        "shipments",
        "stock_ledger",
    ]:
        response = staff_client.get(f"/api/v1/exports/{kind}/")
        assert response.status_code == 200, kind
        b"".join(response.streaming_content)
    rows = b"".join(staff_client.get("/api/v1/exports/backorders/").streaming_content).decode("utf-8-sig")
    assert len(rows.splitlines()) == 2
    later = staff_client.get("/api/v1/exports/backorders/", {"updated_since": "2999-01-01T00:00:00Z"})
    assert len(b"".join(later.streaming_content).decode("utf-8-sig").splitlines()) == 1  # the header only
    assert staff_client.get("/api/v1/exports/backorders/", {"updated_since": "soon"}).status_code == 400
    assert staff_client.get("/api/v1/exports/backorders/", {"format": "pdf"}).status_code == 400
    assert staff_client.get("/api/v1/exports/nope/").status_code == 404


def test_an_export_imports_back_unchanged(staff_client, make_product, django_capture_on_commit_callbacks):
    make_product(stock=4, sku="RT-1")
    content = b"".join(staff_client.get("/api/v1/exports/stock_counts/").streaming_content).decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/api/v1/imports/", {"kind": "stock_counts", "format": "csv", "content": content}, format="json"
        )
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.unchanged, job.created + job.updated) == ("succeeded", 1, 0), job.errors

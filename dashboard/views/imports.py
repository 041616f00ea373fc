"""Imports and exports on the dashboard: upload a file (checked and written by a worker, through the same
``exchange.imports`` as the API), watch its progress bar and read its error table; templates and exports."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.permissions import missing_permissions, permission_denied_message
from exchange.exports import EXPORT_KINDS
from exchange.imports import import_job_create, import_job_get
from exchange.kinds import KINDS
from exchange.models import ImportJob
from exchange.serializers import EXTENSIONS


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.name, k.title) for k in KINDS.values()])
    file = forms.FileField(help_text="CSV (UTF-8, ; or ,), XLSX or JSON lines")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (check only, write nothing)")
    partial = forms.BooleanField(required=False, label="Write the good rows even if some are refused")


def _jobs():
    return ImportJob.objects.defer("content", "errors").select_related("created_by").order_by("-id")[:20]


@require_http_methods(["GET", "POST"])
def imports(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            missing = missing_permissions(request.user, ["exchange.add_importjob", *KINDS[data["kind"]].permissions])
            if missing:
                raise PermissionDenied(permission_denied_message(missing))
            upload = data["file"]
            file_format = EXTENSIONS.get(upload.name.rsplit(".", 1)[-1].lower()) if "." in upload.name else None
            if file_format is None:
                form.add_error("file", "Name the file .csv, .xlsx or .jsonl.")
            else:
                try:
                    job = import_job_create(
                        kind=data["kind"],
                        content=upload.read(),
                        file_format=file_format,
                        filename=upload.name,
                        dry_run=data["dry_run"],
                        partial=data["partial"],
                        user=request.user,
                    )
                except DomainError as exc:
                    form.add_error("file", exc.message)
                else:
                    return HttpResponseRedirect(reverse("dashboard:import", args=[job.pk]))
        status = 422
    else:
        status = 200
    context = {"form": form, "jobs": _jobs(), "kinds": KINDS.values(), "exports": EXPORT_KINDS.values()}
    return render(request, "dashboard/imports.html", context, status=status)


# A dashboard action with its permission checked in the view (it depends on the kind posted).
imports.required_permissions = ("exchange.add_importjob",)


@require_GET
def import_detail(request, pk: int):
    job = import_job_get(job_id=pk)
    template = "dashboard/_import_progress.html" if request.headers.get("HX-Request") else "dashboard/import.html"
    percent = int(100 * job.rows_done / job.rows_total) if job.rows_total else (100 if job.is_finished else 0)
    return render(request, template, {"job": job, "percent": percent, "kind": KINDS.get(job.kind)})

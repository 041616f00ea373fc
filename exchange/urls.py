from django.urls import path

from . import apis

urlpatterns = [
    path("imports/", apis.ImportListCreateApi.as_view(), name="api-imports"),
    path("imports/<int:pk>/", apis.ImportDetailApi.as_view(), name="api-import"),
    path("imports/templates/<str:kind>/", apis.ImportTemplateApi.as_view(), name="api-import-template"),
    path("exports/<str:kind>/", apis.ExportApi.as_view(), name="api-export"),
    path("inbound/<str:source>/", apis.InboundEventApi.as_view(), name="api-inbound"),
]

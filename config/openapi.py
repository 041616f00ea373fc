"""OpenAPI (drf-spectacular) descriptions of the project's own API wiring."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "orders.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A sales channel's key: `Authorization: Api-Key <key>` (create one with "
            "`python manage.py create_api_key <channel-code>`).",
        }

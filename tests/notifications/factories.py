import factory

from notifications.models import EMAIL_ONLY_EVENTS, Notification, NotificationPreference, WebhookEndpoint
from tests.orders.factories import CustomerFactory, SalesChannelFactory


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationPreference

    customer = factory.SubFactory(CustomerFactory)
    regular_updates = True
    preferred_channel = NotificationPreference.Channel.EMAIL


def substitute_link(product, *substitutes):
    product.substitutes.add(*substitutes)
    return product


def rendered(notification):
    """The notification with its message rendered and stored, as the first delivery attempt does."""
    from notifications.rendering import RENDERED_FIELDS, notification_render

    notification_render(notification)
    notification.save(update_fields=RENDERED_FIELDS)
    return notification


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An endpoint subscribed to every event (as a channel's webhook became one by the migration)."""

    class Meta:
        model = WebhookEndpoint

    channel = factory.SubFactory(SalesChannelFactory)
    url = "https://hooks.example.com/oms"
    events = factory.LazyFunction(lambda: [e for e in Notification.Event.values if e not in EMAIL_ONLY_EVENTS])
    is_active = True
    secret = factory.Sequence(lambda n: f"whsec_test_{n:04d}" + "k" * 30)


def channel_with_webhook(*, code: str = "shop", url: str, secret: str = "k", **kwargs):
    """A sales channel with one webhook endpoint on every event: (channel, endpoint)."""
    channel = SalesChannelFactory(code=code, **kwargs)
    return channel, WebhookEndpointFactory(channel=channel, url=url, secret=secret)

import factory

from notifications.models import NotificationPreference
from tests.orders.factories import CustomerFactory


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

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

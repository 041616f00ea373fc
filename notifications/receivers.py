"""Domain events notifications listens to (connected in ``NotificationsConfig.ready``). Every receiver writes its
outbox rows in the sender's transaction (the transactional outbox); publishing to the broker happens after commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import receiver

from backorders.signals import allocation_events_recorded, backorder_events_recorded, eta_events_recorded
from orders.signals import regular_updates_declined

from .bulk import event_batch_record, event_batches_process
from .services import notifications_from_backorder_events


@receiver(backorder_events_recorded, dispatch_uid="notifications.outbox_for_backorder_events")
def outbox_for_backorder_events(sender, *, events, loaded=False, **kwargs) -> None:
    notifications_from_backorder_events(events=events, loaded=loaded)


@dataclass
class WriteLater:
    """The outbox rows of an ETA rewrite's chunks, written once after its last chunk (merged across chunks)."""

    batch_ids: list[int]

    def merge(self, other: WriteLater) -> WriteLater:
        return WriteLater([*self.batch_ids, *other.batch_ids])

    def __call__(self) -> None:
        event_batches_process(batch_ids=self.batch_ids)


@receiver(eta_events_recorded, dispatch_uid="notifications.outbox_for_eta_events")
def outbox_for_eta_events(sender, *, product_id, first_event_id, last_event_id, **kwargs) -> WriteLater:
    """A chunk of ETA changes: its marker row commits with it; the rows are written by the follow-up (one statement
    for the whole rewrite, outside the stock lock) or, if the rewrite stops before, by the relay."""
    batch = event_batch_record(
        kind="eta_changed",
        product_id=product_id,
        first_event_id=first_event_id,
        last_event_id=last_event_id,
        publish=False,
    )
    return WriteLater([batch.pk])


@receiver(allocation_events_recorded, dispatch_uid="notifications.batch_for_allocation_events")
def batch_for_allocation_events(sender, *, kind, product_id, first_event_id, last_event_id, **kwargs) -> None:
    """The "ready" messages of an allocation run are written right after commit from a batch row committed with it."""
    event_batch_record(kind=kind, product_id=product_id, first_event_id=first_event_id, last_event_id=last_event_id)


@receiver(regular_updates_declined, dispatch_uid="notifications.preference_for_declined_updates")
def preference_for_declined_updates(sender, *, customer, actor=None, **kwargs) -> None:
    """The customer opted out of regular updates (status page): the same preference the API sets, recorded with who
    asked ("customer")."""
    from .services.staff import notification_preference_set

    notification_preference_set(customer=customer, regular_updates=False, user=actor)

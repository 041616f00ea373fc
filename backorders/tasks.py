from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def allocate_product(product_id: int) -> int:
    from .allocation import allocate_product as allocate

    return allocate(product_id=product_id)

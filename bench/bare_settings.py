"""Settings of the bare endpoint bench/orders.py measures beside the product: the product's own settings (the same
middleware, database connection handling, installed apps), with a URLconf holding only bench/bare_urls.py."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bare_urls"

"""Settings, driven by the environment (12-factor).

With nothing set the app runs on an SQLite file with Celery tasks executed eagerly in-process
(the embedded default). DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE

from config.security import checked_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


# Production is the default: development conveniences (DEBUG, the public dev key, plain-HTTP cookies, demo login)
# are switched on explicitly with DEBUG=1 (`make run` does).
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = checked_secret_key(os.environ.get("SECRET_KEY"), debug=DEBUG)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "drf_spectacular_sidecar",
    "core",
    "inventory",
    "orders",
    "backorders",
    "suppliers",
    "notifications",
    "exchange",
    "fulfilment",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Under /api/: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, and every error answer is problem+json.
    "config.middleware.ApiProblemMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: locks out login attempts after too many failures.
    "axes.middleware.AxesMiddleware",
]

# The chain of a channel's API request (config/wsgi.py): MIDDLEWARE without sessions, CSRF, session users, messages,
# htmx, the page CSP and the login lockout, none of which such a request uses. Same order as in MIDDLEWARE.
CHANNEL_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiProblemMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; a generous timeout avoids "database is locked" in the demo server.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The hot statements are prepared once per session (core.sql.execute_prepared) and looked up by keys: their
    # generic plan is the one to keep (left to itself PostgreSQL re-plans a statement of many CTEs every call).
    # Only statements prepared by name are concerned; everything else is planned per call as before.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# order_placed_id_idx INCLUDEs the id on PostgreSQL; on the embedded SQLite it is a plain index, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: a locked-out username or address is refused before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # DRF's defaults, with a JSON parser that answers 400 (not 500) to deeply nested documents.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.StrictFilterBackend",
        "core.filters.StrictOrderingFilter",
        "core.filters.UpdatedSinceFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.OmsAutoSchema",
    "EXCEPTION_HANDLER": "core.api.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # One budget per caller (a channel's API key, a staff user, an anonymous address), counted in the cache.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "channel": os.environ.get("OMS_THROTTLE_CHANNEL", "600/min"),
        "staff": os.environ.get("OMS_THROTTLE_STAFF", "1200/min"),
        "anon": os.environ.get("OMS_THROTTLE_ANON", "60/min"),
        # Requests with an unknown or revoked API key, per client address.
        "bad_api_key": os.environ.get("OMS_THROTTLE_BAD_API_KEY", "20/min"),
        # Webhook pings (a synchronous outbound request each), per caller, on top of the caller's budget.
        "webhook_ping": os.environ.get("OMS_THROTTLE_WEBHOOK_PING", "10/min"),
    },
    # Proxies in front of the app that append to X-Forwarded-For; 0 trusts only the socket address.
    "NUM_PROXIES": env_int("OMS_NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OMS — order management with backorder tracking",
    "DESCRIPTION": "Orders, stock, backorders, suppliers and notifications. Errors are RFC 9457 problem details.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: the docs need no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "inventory.models.Product.Status",
        "OrderStatusEnum": "orders.models.Order.Status",
        "BackorderStatusEnum": "backorders.models.Backorder.Status",
        "PurchaseOrderStatusEnum": "suppliers.models.PurchaseOrder.Status",
        "NotificationStatusEnum": "notifications.models.Notification.Status",
        "NotificationEventEnum": "notifications.models.Notification.Event",
        "WebhookEventEnum": "notifications.models.WEBHOOK_EVENTS",  # the same without the e-mail-only digest
        "PriorityEnum": "orders.models.Order.Priority",
        "ImportKindEnum": "exchange.models.ImportJob.Kind",
        "ImportJobStatusEnum": "exchange.models.ImportJob.Status",
        "ForecastMethodEnum": "suppliers.models.ForecastChoice.Method",
        "LotStatusEnum": "inventory.models.Lot.Status",
        "ProductTrackingEnum": "inventory.models.Product.Tracking",
    },
}

# --- Cache ------------------------------------------------------------------------------------
# CACHE_URL (redis://host:port/db) shares one cache between every web process and the Celery workers, so the
# overview figures precomputed by beat serve every request; unset, a per-process in-memory cache (tests, dev).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- HTTPS, cookies, headers (docs/security.md) ------------------------------------------------
# Behind a TLS-terminating proxy, name the header it sets (OMS_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO) so Django
# knows the request came over HTTPS. Only set it if the proxy always sets or strips that header.
_proxy_ssl_header = os.environ.get("OMS_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env_bool("OMS_SSL_REDIRECT", not DEBUG)
# Load balancers and container health checks probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = env_bool("OMS_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("OMS_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("OMS_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("OMS_HSTS_PRELOAD", True)
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): scripts and stylesheets only from our own static files, no inline script.
# Style attributes stay allowed (the SVG charts and a few templates use them; they cannot run code).
# The API docs pages relax styles and workers for Swagger UI / Redoc (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Login rate limits (django-axes) -----------------------------------------------------------
# Too many failed logins (dashboard or admin) from one address, or for one username, lock further attempts out
# for the cool-off time, even with the right password; a successful login resets the count.
AXES_FAILURE_LIMIT = env_int("OMS_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("OMS_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The same client address as the API throttles (honours OMS_NUM_PROXIES, never a spoofable header by default).
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_ip"

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# Without a broker the embedded default runs every task eagerly, in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Redis re-delivers an unacknowledged message after the visibility timeout: keep it far above the
# longest task so a slow task is never run twice in parallel by accident.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# Queues (docs/operations.md): customer e-mail and webhooks each have their own queue, so a slow
# destination of one kind never holds up the other, nor the domain tasks on the default queue. The send task is
# routed by the notification's channel when it is published (notifications.services.outbox). A worker started
# without -Q consumes every queue listed here (the simple setup); production runs one worker per queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {
    "celery": {"exchange": "celery", "routing_key": "celery"},
    "notifications.email": {"exchange": "notifications.email", "routing_key": "notifications.email"},
    "notifications.webhook": {"exchange": "notifications.webhook", "routing_key": "notifications.webhook"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE["notifications-relay"] = {"task": "notifications.tasks.notifications_relay", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["notifications-periodic"] = {
    "task": "notifications.tasks.notifications_periodic",
    "schedule": 3600.0,
}
# Heals lost allocation messages: any product with free stock and waiting backorders is allocated again.
CELERY_BEAT_SCHEDULE["allocation-sweep"] = {"task": "backorders.tasks.allocation_sweep", "schedule": 300.0}
# Re-sends allocation and ETA requests whose message was lost (a worker killed mid-task, a purged broker): one
# indexed SELECT of the pending requests older than OMS["WORK_REQUEST_GRACE_SECONDS"]; a run left waiting is dropped.
CELERY_BEAT_SCHEDULE["pending-work-sweep"] = {
    "task": "backorders.tasks.pending_work_sweep",
    "schedule": 10.0,
    "options": {"expire_seconds": 9},
}
# The customer's terms: waiting units past auto_cancel_after_days are cancelled (daily); SLA breaches raise priority.
CELERY_BEAT_SCHEDULE["terms-auto-cancel"] = {"task": "fulfilment.tasks.terms_auto_cancel", "schedule": 24 * 3600.0}
# Lots expired or too short-dated to ship leave sellable stock; their reserved units wait again (docs/lots.md).
CELERY_BEAT_SCHEDULE["lots-expiry-sweep"] = {"task": "fulfilment.tasks.lots_expiry_sweep", "schedule": 24 * 3600.0}
CELERY_BEAT_SCHEDULE["sla-sweep"] = {"task": "backorders.tasks.sla_sweep", "schedule": 300.0}
# Import jobs whose message was lost (broker down) are re-sent; jobs whose worker died are closed (docs/import.md).
CELERY_BEAT_SCHEDULE["import-jobs-sweep"] = {"task": "exchange.tasks.import_jobs_sweep", "schedule": 120.0}
CELERY_BEAT_SCHEDULE["eta-sweep"] = {"task": "backorders.tasks.eta_sweep", "schedule": 6 * 3600.0}
# Planning's daily demand rollup: the order lines since the last run (planning reads the newer ones live).
CELERY_BEAT_SCHEDULE["demand-rollup"] = {"task": "suppliers.tasks.demand_rollup_hourly", "schedule": 3600.0}
# Forecast quality (docs/planning.md): every product's methods backtested; planning uses the best one per product.
CELERY_BEAT_SCHEDULE["forecast-backtests"] = {
    "task": "suppliers.tasks.forecast_backtests_nightly",
    "schedule": 24 * 3600.0,
}
# The staff overview's figures, precomputed into the shared cache (a run left waiting past the next one is dropped).
CELERY_BEAT_SCHEDULE["dashboard-overview-refresh"] = {
    "task": "backorders.tasks.dashboard_overview_refresh",
    "schedule": 60.0,
    "options": {"expire_seconds": 55},  # django_celery_beat's name for the message expiry
}

# --- Email ------------------------------------------------------------------------------------
# Development mode writes customer emails to files under var/emails/ (gitignored): a demo run sends thousands, and
# on the console they would bury what `make run` prints last (the URL, the login, the API key).
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend" if DEBUG else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orders@example.com")
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (development, tests with worker processes).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or (str(BASE_DIR / "var" / "emails") if DEBUG else None)
# Development files (`make run`): the demo API key, so it can be printed on every run (keys are stored hashed).
OMS_DEV_DIR = Path(os.environ.get("OMS_DEV_DIR") or BASE_DIR / "var")
# Seconds per SMTP operation: a hung mail server must not hold a notification past its delivery lease.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Outbound HTTP (core/outbound.py, docs/notifications.md): https to public addresses only.
# Plain http is a development convenience (on with DEBUG unless set); private and loopback addresses are
# for tests and development only, switched on explicitly.
OMS_OUTBOUND_ALLOW_HTTP = env_bool("OMS_OUTBOUND_ALLOW_HTTP", DEBUG)
OMS_OUTBOUND_ALLOW_PRIVATE = env_bool("OMS_OUTBOUND_ALLOW_PRIVATE", False)

# --- Business settings ------------------------------------------------------------------------
OMS = {
    # How far ahead a purchase order's expected date may lie (a supplier's date beyond it is refused as a typo).
    "PO_HORIZON_DAYS": env_int("OMS_PO_HORIZON_DAYS", 730),
    # Signed inbound events (docs/import.md): a timestamp further than this from now is refused (a replay).
    "INBOUND_TOLERANCE_SECONDS": env_int("OMS_INBOUND_TOLERANCE_SECONDS", 300),
    # Largest import file accepted as a multipart upload (API and dashboard); a JSON body stays under
    # DATA_UPLOAD_MAX_MEMORY_SIZE.
    "IMPORT_MAX_BYTES": env_int("OMS_IMPORT_MAX_BYTES", 100 * 1024 * 1024),
    # An order line above this quantity is refused as absurd (protects against typos and abuse).
    "MAX_LINE_QUANTITY": env_int("OMS_MAX_LINE_QUANTITY", 100_000),
    "MAX_ORDER_LINES": env_int("OMS_MAX_ORDER_LINES", 200),
    "DEFAULT_CURRENCY": os.environ.get("OMS_DEFAULT_CURRENCY", "EUR"),
    # --- pending work (backorders.WorkRequest; docs/operations.md, "Crash recovery") ---
    # An allocation or ETA request still pending this long is re-sent by beat's pending-work sweep (its message was
    # lost); one already re-sent is sent again only after WORK_REQUEST_RESEND_SECONDS, so a long queue is not
    # flooded with duplicates. A worker that starts re-sends every pending request at once.
    "WORK_REQUEST_GRACE_SECONDS": env_int("OMS_WORK_REQUEST_GRACE_SECONDS", 15),
    "WORK_REQUEST_RESEND_SECONDS": env_int("OMS_WORK_REQUEST_RESEND_SECONDS", 60),
    # --- customer notifications (docs/notifications.md) ---
    # An ETA that moves later by more than this many days is announced (an earlier ETA always is).
    "NOTIFY_ETA_CHANGE_THRESHOLD_DAYS": env_int("OMS_NOTIFY_ETA_CHANGE_THRESHOLD_DAYS", 1),
    "NOTIFY_REGULAR_UPDATE_DAYS": env_int("OMS_NOTIFY_REGULAR_UPDATE_DAYS", 7),
    # Waiting longer than this (or an ETA further out than this from the order date) earns an incentive.
    "NOTIFY_LONG_DELAY_DAYS": env_int("OMS_NOTIFY_LONG_DELAY_DAYS", 21),
    # Incentive rule: kind, percent of the backordered value, capped at an amount.
    "NOTIFY_INCENTIVE_KIND": os.environ.get("OMS_NOTIFY_INCENTIVE_KIND", "discount_code"),
    "NOTIFY_INCENTIVE_PERCENT": env_int("OMS_NOTIFY_INCENTIVE_PERCENT", 10),
    "NOTIFY_INCENTIVE_MAX_AMOUNT": env_int("OMS_NOTIFY_INCENTIVE_MAX_AMOUNT", 50),
    "NOTIFY_CANCELLATION_PAYMENT_TEXT": os.environ.get(
        "OMS_NOTIFY_CANCELLATION_PAYMENT_TEXT",
        "You will not be charged for the cancelled items. If you have already paid for them, "
        "the money goes back to your original payment method within 5 to 10 working days.",
    ),
    "NOTIFY_MAX_ATTEMPTS": env_int("OMS_NOTIFY_MAX_ATTEMPTS", 6),
    "NOTIFY_RETRY_BASE_SECONDS": env_int("OMS_NOTIFY_RETRY_BASE_SECONDS", 30),
    "NOTIFY_RETRY_MAX_SECONDS": env_int("OMS_NOTIFY_RETRY_MAX_SECONDS", 3600),
    # One total deadline per webhook attempt (resolve + connect + send + read), and how much of the
    # receiver's answer is read at most (the rest is dropped; only the status code counts).
    "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": env_int("OMS_NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 5),
    "NOTIFY_WEBHOOK_MAX_RESPONSE_BYTES": env_int("OMS_NOTIFY_WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024),
    # The relay leaves rows younger than this to the task enqueued at commit.
    "NOTIFY_SWEEP_GRACE_SECONDS": env_int("OMS_NOTIFY_SWEEP_GRACE_SECONDS", 30),
    # A row handed to the broker by the relay whose task never started within this time is offered again (a lost
    # message; a duplicate message is harmless). A row a worker started sending is offered again when its lease
    # ends: the delivery's total deadline (webhook timeout, or EMAIL_TIMEOUT per SMTP step) plus this margin.
    "NOTIFY_CLAIM_TIMEOUT_SECONDS": env_int("OMS_NOTIFY_CLAIM_TIMEOUT_SECONDS", 600),
    "NOTIFY_LEASE_MARGIN_SECONDS": env_int("OMS_NOTIFY_LEASE_MARGIN_SECONDS", 5),
    # A webhook endpoint (a sales channel's URL) that failed this many times in a row is left alone for a
    # cool-down (doubling at each further failure, capped); its rows wait without using an attempt.
    "NOTIFY_BREAKER_FAILURES": env_int("OMS_NOTIFY_BREAKER_FAILURES", 5),
    "NOTIFY_BREAKER_COOLDOWN_SECONDS": env_int("OMS_NOTIFY_BREAKER_COOLDOWN_SECONDS", 30),
    "NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS": env_int("OMS_NOTIFY_BREAKER_COOLDOWN_MAX_SECONDS", 1800),
    # At most this many sends to one endpoint at a time; further rows wait a moment (no attempt used), so one
    # slow endpoint can hold at most this many webhook worker slots.
    "NOTIFY_ENDPOINT_MAX_IN_FLIGHT": env_int("OMS_NOTIFY_ENDPOINT_MAX_IN_FLIGHT", 4),
    "NOTIFY_ENDPOINT_BUSY_DELAY_SECONDS": env_int("OMS_NOTIFY_ENDPOINT_BUSY_DELAY_SECONDS", 2),
    "NOTIFY_RELAY_BATCH": env_int("OMS_NOTIFY_RELAY_BATCH", 500),
    # Webhook endpoints (docs/notifications.md): after a secret rotation the previous secret keeps signing
    # (X-Signature-Previous) this long; a channel may register at most this many endpoints.
    "WEBHOOK_SECRET_GRACE_SECONDS": env_int("OMS_WEBHOOK_SECRET_GRACE_SECONDS", 24 * 3600),
    "WEBHOOK_ENDPOINTS_PER_CHANNEL": env_int("OMS_WEBHOOK_ENDPOINTS_PER_CHANNEL", 10),
    # --- promises (docs/promises.md) ---
    # The customer-facing ETA is the date by which supply arrived in this share of similar past cases; it is measured
    # only when a supplier (or supplier product) has at least ETA_MIN_HISTORY delivered lines in the last
    # ETA_HISTORY_DAYS, otherwise the quoted date stands (eta_basis says which).
    "ETA_SERVICE_LEVEL": env_float("OMS_ETA_SERVICE_LEVEL", 0.9),
    "ETA_MIN_HISTORY": env_int("OMS_ETA_MIN_HISTORY", 10),
    "ETA_HISTORY_DAYS": env_int("OMS_ETA_HISTORY_DAYS", 365),
    # The cost of backorders (docs/promises.md): yearly carrying cost of open backorder value, as a share.
    "BACKORDER_CARRYING_RATE": env_float("OMS_BACKORDER_CARRYING_RATE", 0.2),
    # --- the customer's side (docs/terms.md) ---
    # Where customers reach this service: status links in e-mails are absolute when set (https://oms.example.com).
    "PUBLIC_BASE_URL": os.environ.get("OMS_PUBLIC_BASE_URL", ""),
    # A status link keeps working this many days after its order shipped or was cancelled (then 410).
    "STATUS_LINK_DAYS_AFTER_CLOSE": env_int("OMS_STATUS_LINK_DAYS_AFTER_CLOSE", 30),
    # Actions (form posts) per status link per hour; further posts get 429.
    "STATUS_ACTIONS_PER_HOUR": env_int("OMS_STATUS_ACTIONS_PER_HOUR", 20),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

from django.core.management.base import BaseCommand

from orders.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a sales channel (creating the channel if needed). Prints the key last."

    def add_arguments(self, parser):
        parser.add_argument("channel_code")
        parser.add_argument("--name", default="", help="A label for the key, e.g. 'production storefront'.")
        parser.add_argument("--channel-name", default=None)

    def handle(self, *args, channel_code, name, channel_name, **options):
        api_key, raw_key = api_key_create(channel_code=channel_code, name=name, channel_name=channel_name)
        self.stderr.write(f"API key {api_key.prefix}… created for channel {api_key.channel.code}. It is shown once:")
        self.stdout.write(raw_key)

from django.core.management.base import BaseCommand, CommandError

from fulfilment.integrity import integrity_problems


class Command(BaseCommand):
    help = "Recompute stock, allocation and backorder sums from their rows; exit non-zero on any mismatch."

    def handle(self, *args, **options):
        problems = integrity_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} integrity problem(s) found.")
        self.stdout.write(self.style.SUCCESS("Integrity OK: ledger, allocations, backorders and order statuses agree."))

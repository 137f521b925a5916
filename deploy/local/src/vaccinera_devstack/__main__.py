"""``python -m vaccinera_devstack up`` starts the whole system; ``token`` mints a dev token."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from vaccinera_contracts.roles import Role
from vaccinera_devstack import demo, tokens
from vaccinera_devstack.idp import directory
from vaccinera_devstack.paths import repo_root
from vaccinera_devstack.platform import Platform, PlatformPorts

RUN_DIR = repo_root() / ".run" / "local"


def up(_: argparse.Namespace) -> int:
    started = time.monotonic()
    platform = Platform(RUN_DIR, PlatformPorts.local())

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM behaves like Ctrl-C: whatever is running (even start-up) stops everything.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        print("vaccinera: starting Kafka, PostgreSQL, stand-ins and seven services ...", flush=True)
        platform.start()
        patients = demo.load(platform.gateway_url, platform.keys)
        book = demo.open_time_book(platform.gateway_url, platform.keys)
        stock = demo.open_stock(platform.gateway_url, platform.keys)
        comirnaty = next(
            (b["batch_id"] for b in stock if b["vaccine_id"] == "vaccine-comirnaty"), "?"
        )
        tolvan = patients.get("191212121212", "?")
        doctor = tokens.demo_staff_token(
            platform.keys, Role.DOCTOR, unit_id="unit-centrum", ttl=12 * 3600
        )
        citizen = tokens.mint(platform.keys, tokens.citizen_claims("191212121212"), ttl=12 * 3600)
        dose1 = book.visit_types.get("Covid-19 dos 1, Comirnaty", "?")
        token = tokens.demo_staff_token(platform.keys, Role.NURSE, ttl=12 * 3600)
        infra = platform.ports.infra
        print(
            f"""
Vaccinera is running (ready in {time.monotonic() - started:.0f} s).

  Gateway          {platform.gateway_url}
  API docs         {platform.gateway_url}/docs      (all services, merged)
  Health           {platform.gateway_url}/health
  Identity prov.   {platform.idp.url}/directory   (demo staff; POST /token/siths, /token/bankid)
  AsyncAPI         http://127.0.0.1:{platform.ports.services["booking"]}/asyncapi  (per service)
  Kafka            127.0.0.1:{infra.kafka}
  PostgreSQL       {platform.infra.admin_url}  (admin; one database per service)
  SMS stand-in     http://127.0.0.1:{infra.sms}/_standin/received
  NVR stand-in     http://127.0.0.1:{infra.nvr}/_standin/received
  NPÖ stand-in     http://127.0.0.1:{infra.npo}/_standin/received
  Logs             {RUN_DIR / "logs"}

Demo data: {len(patients)} patients registered. A nurse's token (12 h), for "Authorize" in the docs:

{token}

Book a time as Tolvan Tolvansson (citizen, BankID) in the docs page: Authorize with

{citizen}

then GET /api/booking/time-books/{book.time_book_id}/free-times?visit_type_id={dose1}
and POST /api/booking/bookings with

{{"time_book_id": "{book.time_book_id}", "visit_type_id": "{dose1}",
 "start": "<a free start from the list>",
 "health_declaration": {{"version": 0, "answers": {{"fever": {{"yes": false}},
   "allergy": {{"yes": false}}, "anticoagulants": {{"yes": false}},
   "recent_vaccine": {{"yes": false}}}}}}}}

("version" is the unit's questionnaire version: GET /api/booking/units/unit-centrum/questionnaire
shows the questions and their current version.)

The clinical path (JR-2, JR-4, JR-7): the unit has stock and a quick list
(GET /api/inventory/units/unit-centrum/stock and /quick-list). Authorize as the doctor with

{doctor}

and POST /api/journal/patients/{tolvan}/orders with
{{"vaccine_id": "vaccine-comirnaty", "dose_numbers": [1, 2]}}  (Tolvan's doses 1 and 2).
Then, authorized as the nurse (the first token), POST /api/journal/orders/<dose 1's order_id>/administration
with {{"batch_id": "{comirnaty}"}}  (GET /api/inventory/units/unit-centrum/usable-batches lists
the unit's batches), and print: GET /api/journal/patients/{tolvan}/printouts/journal

More tokens: ./vaccinera token --role doctor   Stop: Ctrl-C (or kill {os.getpid()}).
""",
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM must not cut the orderly stop short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("vaccinera: stopping ...", flush=True)
        platform.stop()
    return 0


def token(args: argparse.Namespace) -> int:
    keys = tokens.ensure_keys(RUN_DIR / "keys")
    if args.citizen:
        print(tokens.mint(keys, tokens.citizen_claims(args.citizen), ttl=args.ttl))
    elif args.service:
        print(tokens.mint(keys, tokens.service_claims(args.service), ttl=args.ttl))
    else:
        member = directory.first_staff_with(Role(args.role))
        ids = ", ".join(a.id for a in member.assignments)
        print(f"# {member.name} ({member.hsa_id}); assignments: {ids}", file=sys.stderr)
        if len(member.assignments) > 1:
            print("# name one in the X-Vaccinera-Assignment header", file=sys.stderr)
        print(tokens.demo_staff_token(keys, Role(args.role), ttl=args.ttl))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vaccinera")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the whole system with demo data").set_defaults(func=up)
    tok = sub.add_parser("token", help="mint a development token")
    tok.add_argument("--role", default=Role.NURSE.value, choices=[r.value for r in Role])
    tok.add_argument("--citizen", metavar="PERSONNUMMER", help="a citizen token instead")
    tok.add_argument(
        "--service",
        choices=["registry-operator", "notifications"],
        help="a client's own token (client credentials, no person) instead",
    )
    tok.add_argument("--ttl", type=int, default=3600)
    tok.set_defaults(func=token)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

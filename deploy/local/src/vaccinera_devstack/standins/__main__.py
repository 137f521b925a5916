"""python -m vaccinera_devstack.standins <sms|nvr|npo> --port N [--record-file F]"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from vaccinera_devstack.standins.app import KINDS, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m vaccinera_devstack.standins")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--record-file", type=Path, default=None)
    args = parser.parse_args()
    app = create_app(args.kind, args.record_file)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

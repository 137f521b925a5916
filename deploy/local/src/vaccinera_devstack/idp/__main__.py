"""python -m vaccinera_devstack.idp --port N --keys-dir DIR [--host H] [--token-ttl S]"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from vaccinera_devstack import tokens
from vaccinera_devstack.idp.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m vaccinera_devstack.idp")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--keys-dir", type=Path, required=True)
    parser.add_argument("--token-ttl", type=int, default=3600)
    args = parser.parse_args()
    app = create_app(
        tokens.ensure_keys(args.keys_dir),
        token_ttl=args.token_ttl,
        clients=tokens.clients_dir(args.keys_dir),
    )
    # The access log shows method, path and status only; personnummer travel in POST bodies.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=True)


if __name__ == "__main__":
    main()

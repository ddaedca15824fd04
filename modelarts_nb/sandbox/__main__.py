"""``python -m modelarts_nb.sandbox``: run a sandbox in the foreground until Ctrl-C or SIGTERM.

It prints the endpoint and ``export`` lines; the sandbox credentials are fake, so printing
them is harmless (and is what lets a second terminal or a notebook kernel use the sandbox).
With those variables set, ``python -m modelarts_nb.sandbox admin reset`` (or ``requests``,
``clear-faults``, ``fault JSON``, ``session-credentials``) makes a signed admin call: admin
endpoints refuse anything not signed with the sandbox's own keys. ``--unique-keys`` gives the
sandbox random keys, so that on a shared machine nobody else can sign for it.

Unlike ``start()``, the command holds the seeded ``leaving-pool`` in ``Deleting`` for an hour
(``--seeded-deleting-seconds``): whoever runs it is giving or rehearsing a demo, and reaches
that pool minutes later; pools deleted through the API still go after ``--delete-seconds``.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from . import admin
from .core import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, DEFAULT_TOKEN, Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modelarts_nb.sandbox",
        description="Serve a local ModelArts pool API (v2) on 127.0.0.1 with fake credentials.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    parser.add_argument("--ak", default=DEFAULT_AK)
    parser.add_argument("--sk", default=DEFAULT_SK)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--security-token", default=None)
    parser.add_argument("--pools", type=int, default=3, help="generic pools pool-01..")
    parser.add_argument("--delete-seconds", type=float, default=6.0,
                        help="how long a pool you delete stays Deleting before it is gone")
    parser.add_argument(
        "--seeded-deleting-seconds", type=float, default=3600.0,
        help="how long the seeded, already Deleting leaving-pool stays (default an hour: a "
        "class or a rehearsal still finds it; admin reset starts the hour again)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests/s before 429 APIG.0308"
    )
    parser.add_argument(
        "--unique-keys", action="store_true",
        help="random AK/SK/token instead of the public defaults (for a shared machine)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--env-file", default=None, help="also write the KEY=VALUE lines here (for make demo)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["admin"]:
        return admin.main(argv[1:])
    args = _parser().parse_args(argv)
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        sandbox = Sandbox(
            port=args.port, project_id=args.project_id, ak=args.ak, sk=args.sk,
            token=args.token, security_token=args.security_token, pools=args.pools,
            delete_seconds=args.delete_seconds, seed=args.seed, log=log,
            latency=args.latency, rate_limit=args.rate_limit, unique_keys=args.unique_keys,
            seeded_deleting_seconds=args.seeded_deleting_seconds,
        )
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        print(f"ModelArts sandbox listening on {sandbox.endpoint}", flush=True)
        for name, value in sandbox.env().items():
            print(f"export {name}={shlex.quote(value)}", flush=True)
        if args.env_file:
            lines = [f"{k}={shlex.quote(v)}" for k, v in sandbox.env().items()]
            with open(args.env_file, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        print("Admin calls (signed with these keys): python -m modelarts_nb.sandbox admin reset",
              flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``dialer-emulator`` / ``python -m airflow_provider_dialer.emulator``: run the vendor emulator on loopback."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from airflow_provider_dialer.emulator.app import VENDORS, Emulator
from airflow_provider_dialer.emulator.state import EmulatorConfig


def _parse_ports(text: str | None, base_port: int | None) -> dict[str, int]:
    if text:
        ports: dict[str, int] = {}
        for item in text.split(","):
            vendor, _, port = item.partition("=")
            if vendor not in VENDORS or not port.isdigit():
                raise SystemExit(f"--ports wants vendor=port pairs for {', '.join(VENDORS)}, got {item!r}")
            ports[vendor] = int(port)
        return ports
    if base_port:
        return {vendor: base_port + i for i, vendor in enumerate(VENDORS)}
    return {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialer-emulator",
        description="Serve emulated uContact, XCALLY, Voipex and UJET dialer APIs on loopback, one port per vendor.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; loopback only is advised)"
    )
    parser.add_argument("--ports", help="explicit ports, e.g. ucontact=8101,xcally=8102,voipex=8103,ujet=8104")
    parser.add_argument(
        "--base-port", type=int, help="first port; vendors take consecutive ports (default: free ports)"
    )
    parser.add_argument("--config-out", help="write {vendor: {base_url, conn_uri, credentials}} JSON to this path")
    parser.add_argument("--print-env", action="store_true", help="print export AIRFLOW_CONN_... lines for each vendor")
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic fault rules")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="VENDOR:JSON",
        help='fault rule, e.g. ujet:{"kind":"status","status":429,"retry_after":1,"times":3}',
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="emulator setting, e.g. ujet_rate_limit=0 or voipex_token_lifetime=5",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = EmulatorConfig()
    changes: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key] = value
    try:
        config.update(changes)
    except KeyError as exc:
        raise SystemExit(f"unknown setting {exc}; known: {', '.join(config.as_dict())}") from None
    emulator = Emulator(host=args.host, ports=_parse_ports(args.ports, args.base_port), config=config, seed=args.seed)
    for item in args.fault:
        vendor, _, rule = item.partition(":")
        if vendor not in emulator.ports:
            raise SystemExit(f"--fault wants VENDOR:JSON with VENDOR in {', '.join(VENDORS)}, got {item!r}")
        emulator.ports[vendor].faults.add(json.loads(rule))

    described = emulator.describe()
    if args.config_out:
        with open(args.config_out, "w", encoding="utf-8") as fh:
            json.dump(described, fh, indent=2)
    if args.print_env:
        for key, value in emulator.env().items():
            print(f"export {key}='{value}'")
    for vendor, info in described.items():
        print(f"dialer-emulator: {vendor:<9} {info['base_url']}  (admin {info['admin_url']})", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, emulator.stop)
        await emulator.serve()

    asyncio.run(serve())
    print("dialer-emulator: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

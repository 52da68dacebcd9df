#!/usr/bin/env python3
"""Bulk refresh, client CPU per refresh: `sendcloud-vault refresh --all --force` beside Authlib's AsyncOAuth2Client.

Both obtain one client_credentials token for each of N accounts from the same local endpoint
(`sendcloud-dev-endpoint --accept-any-client`), 4 requests at a time:

- sendcloud-vault: one process; each refresh takes the account's lock, opens its sealed record, posts the grant,
  seals the new token bound to the account and commits it durably (SQLite, synchronous=FULL). Its CPU is the
  process's user + system time (wait4), start-up and unlock included.
- Authlib (httpx): one asyncio loop in this process, one AsyncOAuth2Client per account (made before the pass, as a
  backend holds them), tokens kept in memory only. Its CPU is this process's user + system time around the pass
  (getrusage).

The endpoint's own CPU is in neither. Rounds alternate the two; the table gives each one's median per refresh and
the ratio (BENCHMARKS.md, "Bulk refresh"). Needs `pip install authlib httpx` and the release binaries:
    ./setup        (or: swift build -c release --static-swift-stdlib --product sendcloud-vault
                         --product sendcloud-dev-endpoint)
    Benchmarks/authlib/bulk-refresh.py [--bin DIR] [--accounts N] [--rounds N]
"""

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from authlib.integrations.httpx_client import AsyncOAuth2Client


def cpu_seconds(usage):
    return usage.ru_utime + usage.ru_stime


def run_cli(binary, arguments, stdin=None):
    """Runs the CLI; returns (CPU seconds, wall seconds)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [binary] + arguments, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if stdin:
        process.stdin.write(stdin)
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    errors = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bulk-refresh: {' '.join(arguments[:2])} failed: {errors}")
    return cpu_seconds(usage), wall


def make_clients(count):
    """One client per tenant, made before the pass as a long-running backend holds them (making an httpx client
    loads an SSL context: about 30 ms of CPU, which would otherwise dwarf the refresh)."""
    return [AsyncOAuth2Client(f"authlib-{index}", f"secret-{index}") for index in range(count)]


async def authlib_pass(token_url, clients, concurrency):
    gate = asyncio.Semaphore(concurrency)

    async def one(client):
        async with gate:
            token = await client.fetch_token(token_url, grant_type="client_credentials")
            assert token["access_token"]

    await asyncio.gather(*(one(client) for client in clients))
    for client in clients:
        await client.aclose()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release", help="folder of sendcloud-vault and sendcloud-dev-endpoint")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    options = parser.parse_args()
    cli = os.path.realpath(os.path.join(options.bin, "sendcloud-vault"))
    dev = os.path.realpath(os.path.join(options.bin, "sendcloud-dev-endpoint"))
    for binary in (cli, dev):
        if not os.access(binary, os.X_OK):
            sys.exit(f"bulk-refresh: {binary} is not built (run ./setup)")

    os.umask(0o077)
    with tempfile.TemporaryDirectory(prefix="bulk-refresh.") as tmp:
        endpoint_out = open(os.path.join(tmp, "endpoint.out"), "w+")
        endpoint = subprocess.Popen(
            [dev, "--accept-any-client", "--access-token-lifetime", "3600"],
            stdin=subprocess.DEVNULL, stdout=endpoint_out, stderr=subprocess.STDOUT,
        )
        try:
            token_url = None
            for _ in range(100):
                endpoint_out.seek(0)
                for line in endpoint_out.read().splitlines():
                    if line.startswith("token endpoint: "):
                        token_url = line.removeprefix("token endpoint: ")
                if token_url:
                    break
                time.sleep(0.1)
            if not token_url:
                sys.exit("bulk-refresh: the endpoint did not start")

            vault = os.path.join(tmp, "vault", "vault.sqlite")
            key = os.path.join(tmp, "vault.key")
            run_cli(cli, ["init", "--vault", vault, "--generate-key-file", key])
            for index in range(options.accounts):
                run_cli(
                    cli,
                    ["add", f"t-{index:05d}", "--vault", vault, "--key-file", key, "--client-id", f"cli-{index}",
                     "--client-secret-file", "-", "--token-url", token_url],
                    stdin=f"secret-{index}\n".encode(),
                )
            refresh = ["refresh", "--all", "--force", "--quiet", "--concurrency", str(options.concurrency),
                       "--vault", vault, "--key-file", key]
            run_cli(cli, refresh)  # warm: every account has its first token, the file its pages
            asyncio.run(authlib_pass(token_url, make_clients(options.accounts), options.concurrency))

            cli_cpu, cli_wall, authlib_cpu, authlib_wall = [], [], [], []
            for _ in range(options.rounds):
                cpu, wall = run_cli(cli, refresh)
                cli_cpu.append(cpu)
                cli_wall.append(wall)
                clients = make_clients(options.accounts)
                before = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))
                start = time.perf_counter()
                asyncio.run(authlib_pass(token_url, clients, options.concurrency))
                authlib_wall.append(time.perf_counter() - start)
                authlib_cpu.append(cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - before)
        finally:
            endpoint.terminate()
            endpoint.wait()

    per = lambda samples: statistics.median(samples) / options.accounts * 1000
    print(f"| {options.accounts} client_credentials refreshes, {options.concurrency} at a time, "
          f"{options.rounds} rounds | client CPU ms per refresh (median) | wall s per pass (median) |")
    print("|---|---:|---:|")
    print(f"| `sendcloud-vault refresh --all --force` (sealed, durable commits) | {per(cli_cpu):.3f} | "
          f"{statistics.median(cli_wall):.2f} |")
    print(f"| Authlib `AsyncOAuth2Client` + httpx (tokens in memory) | {per(authlib_cpu):.3f} | "
          f"{statistics.median(authlib_wall):.2f} |")
    print(f"| ratio sendcloud-vault ÷ Authlib | {per(cli_cpu) / per(authlib_cpu):.2f}× | |")


if __name__ == "__main__":
    main()

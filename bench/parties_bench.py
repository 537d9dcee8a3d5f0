"""Parties service benchmark: create throughput, bulk import rate, get and as-of latency, and search
latency at scale, each next to a baseline measured in the same run on the same machine.

It starts its own embedded PostgreSQL and a real parties server in a separate process (so client and
server do not share one interpreter), loads the register through the public API and prints JSON.

    python -m bench.parties_bench --parties 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crm_runtime.db import migrate
from crmctl.fakedata import FakeParties
from crmctl.infra import free_port, start_postgres, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "create_per_s": 1000,
    "get_p99_ms": 5.0,
    "search_p99_ms": 50.0,
    "import_per_s": 20000,
    "duplicate_check_p99_ms": 20.0,
}


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "p50_ms": round(pct(ms, 0.5), 3),
        "p99_ms": round(pct(ms, 0.99), 3),
        "mean_ms": round(statistics.mean(ms), 3),
    }


async def timed(calls: list[Any], concurrency: int) -> tuple[float, list[float]]:
    sem = asyncio.Semaphore(concurrency)
    samples: list[float] = []

    async def one(call: Any) -> None:
        async with sem:
            t = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return time.perf_counter() - started, samples


async def bench(args: argparse.Namespace, address: str, psql: Any) -> dict[str, Any]:
    fake = FakeParties(seed=args.seed)
    out: dict[str, Any] = {"parties_in_register": args.parties, "targets": TARGETS}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = parties_pb2_grpc.PartiesServiceStub(channel)

        # 1. Creates, one party per call, many concurrent clients.
        creates = [fake.person(10_000_000 + i) for i in range(args.creates)]
        ids: list[str] = []

        def create(req: pb.CreatePartyRequest) -> Any:
            async def call() -> None:
                ids.append((await stub.CreateParty(req)).party.party_id)

            return call

        elapsed, samples = await timed([create(r) for r in creates], args.concurrency)
        out["create"] = {
            "count": len(creates),
            "concurrency": args.concurrency,
            "per_s": round(len(creates) / elapsed, 1),
            **latency(samples),
        }

        # 2. Bulk import through the streaming RPC; baseline: the create rate above.
        generated_at = time.perf_counter()
        batches: list[pb.ImportPartiesRequest] = []
        batch = pb.ImportPartiesRequest()
        for i, req in enumerate(fake.mixed(args.parties)):
            batch.rows.add(row_ref=str(i), party=req)
            if len(batch.rows) == args.batch:
                batches.append(batch)
                batch = pb.ImportPartiesRequest()
        if batch.rows:
            batches.append(batch)
        gen_s = time.perf_counter() - generated_at

        async def stream() -> Any:
            for b in batches:
                yield b

        started = time.perf_counter()
        result = await stub.ImportParties(stream(), timeout=3600)
        import_s = time.perf_counter() - started
        out["import"] = {
            "rows": args.parties,
            "created": result.parties_created,
            "rejected": len(result.errors),
            "seconds": round(import_s, 1),
            "per_s": round(result.parties_created / import_s, 1),
            "baseline_create_per_s": out["create"]["per_s"],
            "speedup_vs_create": round(result.parties_created / import_s / out["create"]["per_s"], 1),
            "generation_s": round(gen_s, 1),
            "first_errors": [e.violations[0].description for e in result.errors[:3]],
        }
        psql("VACUUM ANALYZE")

        # 3. Get by id and as of a past date/moment; baseline: the same row by primary key in plain SQL.
        rng = random.Random(args.seed)
        sample_ids = rng.sample(ids, min(len(ids), args.reads))
        _, get_samples = await timed([lambda i=i: stub.GetParty(pb.GetPartyRequest(party_id=i)) for i in sample_ids], 1)
        known = pb.GetPartyRequest().known_at
        known.FromDatetime(datetime.now(UTC))
        _, asof_samples = await timed(
            [
                lambda i=i: stub.GetParty(
                    pb.GetPartyRequest(party_id=i, as_of=common_pb2.Date(year=2025, month=1, day=1), known_at=known)
                )
                for i in sample_ids
            ],
            1,
        )
        out["get"] = latency(get_samples)
        out["get_as_of"] = latency(asof_samples)

        # 4. Search at scale: fuzzy names in Cyrillic and Latin, phone, identifier.
        probes = [fake.person(rng.randrange(args.parties)) for _ in range(args.searches)]
        queries: dict[str, list[pb.SearchPartiesRequest]] = {
            "name_cyrillic": [],
            "name_latin": [],
            "name_typo": [],
            "phone": [],
            "identifier": [],
        }
        from services.parties.domain.names import transliterate

        expected: dict[int, str] = {}
        for p in probes:
            n = p.person.name
            queries["name_cyrillic"].append(pb.SearchPartiesRequest(query=f"{n.last_name} {n.first_name}"))
            queries["name_latin"].append(pb.SearchPartiesRequest(query=transliterate(f"{n.last_name} {n.first_name}")))
            # A letter dropped from inside the surname: the commonest typo (short surnames stay as they are).
            cut = rng.randrange(1, len(n.last_name) - 1) if len(n.last_name) > 3 else len(n.last_name)
            queries["name_typo"].append(
                pb.SearchPartiesRequest(query=f"{n.last_name[:cut]}{n.last_name[cut + 1 :]} {n.first_name}")
            )
            for name in ("name_cyrillic", "name_latin", "name_typo"):
                expected[id(queries[name][-1])] = n.last_name
            if p.contact_points:
                queries["phone"].append(pb.SearchPartiesRequest(phone=p.contact_points[0].phone))
            inn = [x for x in p.identifiers if x.type == pb.IDENTIFIER_TYPE_INN]
            if inn:
                queries["identifier"].append(
                    pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=inn[0].value)
                )
        out["search"] = {}
        for name, reqs in queries.items():
            found = 0
            samples = []
            for req in reqs:
                t = time.perf_counter()
                resp = await stub.SearchParties(req)
                samples.append(time.perf_counter() - t)
                want = expected.get(id(req))
                found += bool(want and any(h.party.display_name.startswith(want) for h in resp.hits))
            entry = {"count": len(reqs), **latency(samples)}
            if name.startswith("name"):
                # Quality, not only speed: how often the probed person's surname is on the first page.
                entry["surname_on_first_page"] = round(found / max(1, len(reqs)), 3)
            out["search"][name] = entry
        # Baseline: the naive way, a substring scan over display names in plain SQL.
        t = time.perf_counter()
        for p in probes[:5]:
            psql(f"SELECT count(*) FROM parties.party WHERE display_name ILIKE '%{p.person.name.last_name}%'")
        out["search"]["baseline_ilike_scan_ms"] = round((time.perf_counter() - t) / 5 * 1000, 1)

        # 5. The duplicate check a create runs, at register scale: registered people typed again in Latin
        # letters with the phone in local notation. Quality too: how often the register's original is found.
        checks = []
        for p in probes:
            n = p.person.name
            again = pb.CreatePartyRequest()
            again.person.CopyFrom(p.person)
            again.person.name.last_name = transliterate(n.last_name)
            again.person.name.first_name = transliterate(n.first_name)
            again.person.name.patronymic = ""
            again.contact_points.extend(p.contact_points[:1])
            checks.append(again)
        found, samples = 0, []
        for req in checks:
            t = time.perf_counter()
            resp = await stub.CheckDuplicates(pb.CheckDuplicatesRequest(candidate=req))
            samples.append(time.perf_counter() - t)
            found += resp.decision != pb.DUPLICATE_DECISION_DISTINCT
        out["duplicate_check"] = {
            "count": len(checks),
            **latency(samples),
            "original_found": round(found / max(1, len(checks)), 3),
            "baseline_get_p99_ms": out["get"]["p99_ms"],
        }

    worst_search = max(v["p99_ms"] for k, v in out["search"].items() if isinstance(v, dict))
    out["verdict"] = {
        "create_per_s": out["create"]["per_s"] >= TARGETS["create_per_s"],
        "get_p99_ms": out["get"]["p99_ms"] <= TARGETS["get_p99_ms"],
        "search_p99_ms": worst_search <= TARGETS["search_p99_ms"],
        "import_per_s": out["import"]["per_s"] >= TARGETS["import_per_s"],
        "duplicate_check_p99_ms": out["duplicate_check"]["p99_ms"] <= TARGETS["duplicate_check_p99_ms"],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parties", type=int, default=1_000_000, help="register size loaded by bulk import")
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crm-bench-", dir="/tmp") as tmp:
        pg = start_postgres(Path(tmp) / "pg")
        url = pg.ensure_database("crm_parties")
        migrate(ROOT / "services" / "parties" / "migrations", url)
        port = free_port()
        env = {
            **os.environ,
            "CRM_PARTIES_DATABASE_URL": url,
            "CRM_GRPC_PORT": str(port),
            "CRM_LOG_LEVEL": "WARNING",
            "CRM_DB_POOL_SIZE": "20",
        }
        server = subprocess.Popen([sys.executable, "-m", "crmctl.cli", "serve", "parties"], env=env, cwd=ROOT)
        try:
            wait_for_port("127.0.0.1", port, timeout=60, proc=server)
            result = asyncio.run(bench(args, f"127.0.0.1:{port}", lambda sql: pg.psql(sql, "crm_parties")))
        finally:
            server.terminate()
            server.wait(30)
            pg.stop()
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

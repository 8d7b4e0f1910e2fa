"""Benchmark: kms_data_key_rewrap against the seed's per-blob CLI and a bare SDK pool.

    python tests/benchmarks/bench_kms_data_key_rewrap.py [--blobs 2000] [--cli-sample 200]
                                                          [--latency-ms 0] [--concurrency 16]
                                                          [--wrapped] [--requires-source-key-id]

All three re-wrap the same blobs on one local endpoint in one run:
- module:   one ansible-playbook task over all the files (wall time of the whole
            ansible-playbook process, start-up included, plus its start-up alone);
- cli:      the seed's way, one `aws kms re-encrypt` process per blob, run one
            after another; only --cli-sample blobs are run and the time is
            extrapolated to all of them (it says so);
- ceiling:  a bare boto3 thread pool of the same size making only the ReEncrypt
            calls (no file reading or writing, no Ansible).
All three name the old key as SourceKeyId, as the rotation role does
(source_key_ids), and the module's ReEncrypt requests per blob are printed.
--wrapped seeds base64 wrapped at 76 columns (as `base64` writes it) instead of
one line; --requires-source-key-id switches on the fidelity switch that makes
ReEncrypt without SourceKeyId answer HTTP 500, as LocalStack does.
The local server, not the network, caps request rates (~300-400 req/s on
two cores), so ratios measured in one run matter, not absolute rates.
"""

import argparse
import base64
import pathlib
import tempfile
from concurrent.futures import ThreadPoolExecutor

from _common import LocalEndpoint, Stopwatch, cli_env, playbook_runner, print_table, run_cli


def _encode(blob, wrapped):
    text = base64.b64encode(blob)
    if not wrapped:
        return text + b"\n"
    return b"".join(text[start:start + 76] + b"\n" for start in range(0, len(text), 76))


def _seed(kms, key_id, directory, count, concurrency, wrapped=False):
    def make(index):
        blob = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")["CiphertextBlob"]
        (directory / "blob-{0:06d}.key".format(index)).write_bytes(_encode(blob, wrapped))

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(make, range(count)))


def _ceiling(kms, files, source, destination, concurrency):
    # b64decode drops the line breaks of wrapped text.
    blobs = [base64.b64decode(path.read_bytes()) for path in files]
    with ThreadPoolExecutor(concurrency) as pool, Stopwatch() as watch:
        list(pool.map(lambda blob: kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=source,
                                                  DestinationKeyId=destination), blobs))
    return watch.seconds


def _cli_per_blob(endpoint, files, source, destination):
    env = cli_env(endpoint)
    with Stopwatch() as watch:
        for path in files:
            blob_file = path.with_suffix(".bin")
            blob_file.write_bytes(base64.b64decode(path.read_bytes()))
            answer = run_cli(["aws", "kms", "re-encrypt", "--ciphertext-blob", "fileb://{0}".format(blob_file),
                              "--source-key-id", source, "--destination-key-id", destination,
                              "--query", "CiphertextBlob", "--output", "text"],
                             env)
            path.write_bytes(answer.stdout)
            blob_file.unlink()
    return watch.seconds


def _module_run(runner, pattern, source, destination, concurrency):
    tasks = [{"name": "rewrap", "kmsrotate.aws.kms_data_key_rewrap": {
        "destination_key_id": destination, "source_key_ids": [source], "paths": [pattern],
        "concurrency": concurrency}}]
    with Stopwatch() as watch:
        run = runner.run(tasks)
    if run.rc != 0:
        raise SystemExit("module run failed:\n{0!r}".format(run))
    return watch.seconds, run.result("rewrap")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=2000)
    parser.add_argument("--cli-sample", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--wrapped", action="store_true", help="seed base64 wrapped at 76 columns")
    parser.add_argument("--requires-source-key-id", action="store_true",
                        help="answer ReEncrypt without SourceKeyId with HTTP 500, as LocalStack does")
    args = parser.parse_args()

    with LocalEndpoint() as endpoint, tempfile.TemporaryDirectory() as workdir:
        work = pathlib.Path(workdir)
        kms = endpoint.client("kms", max_pool_connections=args.concurrency + 4)
        old = kms.create_key(Description="bench old")["KeyMetadata"]["KeyId"]
        new = kms.create_key(Description="bench new")["KeyMetadata"]["Arn"]
        blob_dir = work / "blobs"
        blob_dir.mkdir()
        _seed(kms, old, blob_dir, args.blobs, args.concurrency, args.wrapped)
        files = sorted(blob_dir.glob("*.key"))
        if args.latency_ms:
            endpoint.set_faults([{"kind": "latency", "ms": args.latency_ms}])
        if args.requires_source_key_id:
            endpoint.set_fidelity(kms_reencrypt_requires_source_key_id=True)

        ceiling = _ceiling(kms, files, old, new, args.concurrency)
        runner = playbook_runner(endpoint, work)
        (work / "one.key").write_bytes(files[0].read_bytes())
        startup = _module_run(runner, str(work / "one.key"), old, new, args.concurrency)[0]
        endpoint.clear_stats()
        module_seconds, result = _module_run(runner, str(blob_dir / "*.key"), old, new, args.concurrency)
        module_requests = endpoint.stats().get("kms:ReEncrypt", 0)
        assert result["counts"]["rewrapped"] == args.blobs, result["counts"]

        # The module moved every blob; hand the CLI a fresh sample under the old key.
        sample = min(args.cli_sample, args.blobs)
        cli_dir = work / "cli"
        cli_dir.mkdir()
        _seed(kms, old, cli_dir, sample, args.concurrency, args.wrapped)
        cli_sample_seconds = _cli_per_blob(endpoint, sorted(cli_dir.glob("*.key")), old, new)
        cli_seconds = cli_sample_seconds / sample * args.blobs

    rows = [
        {"method": "kms_data_key_rewrap (ansible-playbook)", "seconds": "{0:.1f}".format(module_seconds),
         "blobs/s": "{0:.0f}".format(args.blobs / module_seconds)},
        {"method": "  of which ansible-playbook + module start-up", "seconds": "{0:.1f}".format(startup)},
        {"method": "bare boto3 pool, ReEncrypt only (ceiling)", "seconds": "{0:.1f}".format(ceiling),
         "blobs/s": "{0:.0f}".format(args.blobs / ceiling)},
        {"method": "aws kms re-encrypt per blob (seed's way){0}".format(
            "" if sample == args.blobs else ", {0} run, extrapolated".format(sample)),
         "seconds": "{0:.1f}".format(cli_seconds), "blobs/s": "{0:.1f}".format(args.blobs / cli_seconds)},
    ]
    print_table("Re-wrap {0} data-key files ({1}), concurrency {2}, added latency {3} ms{4}".format(
        args.blobs, "base64 wrapped at 76" if args.wrapped else "base64, one line", args.concurrency,
        args.latency_ms, ", ReEncrypt needs SourceKeyId" if args.requires_source_key_id else ""),
        rows, ["method", "seconds", "blobs/s"])
    print("\nmodule ReEncrypt requests: {0} for {1} blobs ({2:.2f} per blob)".format(
        module_requests, args.blobs, module_requests / args.blobs))
    print("\nmodule vs per-blob CLI: {0:.0f}x faster (target >= 50x)".format(cli_seconds / module_seconds))
    print("module vs bare-SDK ceiling: {0:.2f}x the ceiling's time (target <= 1.25x)".format(module_seconds / ceiling))
    print("module minus start-up vs ceiling: {0:.2f}x".format((module_seconds - startup) / ceiling))


if __name__ == "__main__":
    main()

"""Chaos: the rotation SIGKILLed at every phase, rerun after each kill, then finished; nothing lost.

One estate, one run after another: each run is killed at the next kill point
(kill_points.KILL_POINTS: task starts and held requests, spread over every
phase), the next run resumes, and after the last kill a full run finishes the
rotation. The ledger recorded before the first run must then hold: every data
key, object version, volume and snapshot kept and under the destination key,
no duplicate key, volume or snapshot, the instances running; the source key
ends as the retirement gate decided; and one more run changes nothing.
"""

from .harness import HOST, key_state, reports
from .kill_points import KILL_POINTS, Chaos


def test_killed_at_every_phase_then_rerun_loses_nothing(aws, size, estate, ledger, role_runs, report_dir):
    chaos = Chaos(aws, role_runs)
    for point in KILL_POINTS[size]:
        chaos.kill_at(point)
    assert sum(entry["killed"] for entry in chaos.log) >= 10

    final = chaos.run_to_end("final full run")
    print(chaos.summary())
    assert final.rc == 0, "{0}\n{1!r}".format(chaos.summary(), final)
    assert not role_runs.wait_for_detached_jobs(), "a detached job still runs after the final run"

    last = reports(report_dir)[-1]
    destination = last["summary"]["destination_key_arn"]
    problems = ledger.problems(destination)
    assert problems == [], "{0}\n{1}".format(chaos.summary(), "\n".join(problems))
    # The gate decides: nothing holds the key, so it is disabled.
    assert last["phases"]["verify"]["holding_back"] == [] and last["summary"]["status"] == "complete", last["summary"]
    assert key_state(aws.client("kms"), estate.source_key_arn) == "Disabled"

    again = chaos.run_to_end("last rerun")
    print(chaos.summary().splitlines()[-1])
    assert again.rc == 0 and again.stats(HOST)["changed"] == 0, again

"""cgroups: memory (OOM), pids, cpu; on v1, v2 or a hybrid host."""

from __future__ import annotations

from tests.runtime.conftest import Runtime

MiB = 1024 * 1024


def test_memory_limit_kills_an_allocator(runtime: Runtime) -> None:
    # dd holds one block of bs bytes in memory: 64 MiB cannot fit in 16 MiB.
    alloc = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
    limited = runtime.run(alloc, linux_resources={"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
    assert limited.returncode == 137  # SIGKILL from the OOM killer
    free = runtime.run(alloc)
    assert free.returncode == 0, free.stderr


def test_pids_limit_stops_forks(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait"],
                       linux_resources={"pids": {"limit": 4}})
    assert "can't fork" in done.stderr or "Resource temporarily unavailable" in done.stderr


def test_cpu_and_memory_values_are_written(runtime: Runtime) -> None:
    res = {"cpu": {"shares": 512, "quota": 50000, "period": 100000},
           "memory": {"limit": 64 * MiB}}
    script = ("if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.weight "
              "/sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max; else "
              "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
              "/sys/fs/cgroup/memory/memory.limit_in_bytes; fi")
    done = runtime.run(["sh", "-c", script], linux_resources=res)
    assert done.stdout.split() in (["512", "50000", str(64 * MiB)],
                                   ["20", "50000", "100000", str(64 * MiB)])


def test_cpuset(runtime: Runtime) -> None:
    done = runtime.run(["grep", "Cpus_allowed_list", "/proc/self/status"],
                       linux_resources={"cpu": {"cpus": "0"}})
    assert done.stdout.split()[1] == "0"

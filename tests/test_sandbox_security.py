"""The security battery on a real Docker engine.

Each test takes a fresh sandbox from a shared pool, attacks it, and checks that the attack ends with
a clear ExecResult, that the sandbox still answers, and that the next episode gets a clean sandbox.
"""

import textwrap
import time
import uuid

import pytest

from sandboxes.base import Limits
from tests.docker_sandbox import (  # noqa: F401 (fixtures)
    assert_clean_next_episode,
    client,
    docker,
    other_pids,
    pool,
    sb,
)

# ---- the security battery ---------------------------------------------------------------------

def test_network_is_unreachable(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno, os, socket
        for host in [("1.1.1.1", 53), ("172.17.0.1", 2375)]:
            try:
                socket.create_connection(host, timeout=2)
                print("connected")
            except OSError as e:
                print(errno.errorcode.get(e.errno, e))
        print(sorted(os.listdir('/sys/class/net')))
    """), timeout=10)
    assert r.stdout == "ENETUNREACH\nENETUNREACH\n['lo']\n", r
    assert_clean_next_episode(pool)


def test_fork_bomb_is_contained(sb, pool):
    r = sb.run(":(){ :|:& };: ; sleep 2", lang="bash", timeout=1)  # the classic, left running until the timeout
    assert (r.exit_code, r.timed_out, r.error) == (-9, True, None), r
    assert other_pids(sb) == "[]"  # everything it made is gone
    # Sleeping children: this half tests the pids limit itself (busy children make each further fork
    # crawl under the 1-CPU quota on a loaded 2-core host; the bash bomb above covers CPU burn).
    r = sb.run(textwrap.dedent("""
        import os, time
        n = 0
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(3600)
                n += 1
            except OSError:
                print("fork refused after", n > 10); break
    """), timeout=10)
    assert r.stdout == "fork refused after True\n" and r.exit_code == 0, r
    assert other_pids(sb) == "[]"
    assert sb.run("print('alive')", timeout=5).stdout == "alive\n"
    assert_clean_next_episode(pool)


def test_memory_bombs_are_contained(sb, pool):
    r = sb.run("x = bytearray(4 << 30)", timeout=10)
    assert r.exit_code == 1 and r.stderr.strip().endswith("MemoryError"), r
    # growing past the container's memory: the memory cgroup's OOM killer takes it, and says so
    r = sb.run("a = []\nwhile True: a.append(bytearray(16 << 20))", timeout=20)
    assert r.exit_code == -9 and r.stderr == "\n[sandbox: out of memory (limit 512 MiB); the kernel killed a process]\n", r
    # two processes together over the container's memory: the OOM killer picks them
    # (oom_score_adj 1000, inherited by their children), never the worker
    r = sb.run(textwrap.dedent("""
        import os
        pids = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                a = []
                try:
                    while True: a.append(b'x' * (32 << 20))
                except MemoryError:
                    os._exit(3)
            pids.append(pid)
        print(sorted({os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids}))
    """), timeout=30)
    assert r.exit_code == 0 and r.stdout in ("[-9]\n", "[-9, 3]\n"), r
    assert sb.run("print('alive')", timeout=5).stdout == "alive\n"
    assert_clean_next_episode(pool)


def test_file_floods_stop_at_the_inode_caps_and_the_worker_survives(sb, pool):
    """Empty files cost kernel memory, not tmpfs size: before the inode caps, a flood of them took the
    container to its memory limit and the OOM killer then took the worker (the episode was lost)."""
    flood = textwrap.dedent("""
        import errno, os, sys
        for d in sys.argv[1:]:
            n = 0
            try:
                while True:
                    open(f'{d}/f{n}', 'w').close(); n += 1
            except OSError as e:
                print(d, n, errno.errorcode[e.errno])
            target, links = f'{d}/f0', 0
            try:  # hard links pin a dentry each; tmpfs counts them against nr_inodes too
                while True:
                    os.link(target, f'{d}/l{links}'); links += 1
            except OSError as e:
                print('links', links, errno.errorcode[e.errno])
    """)
    r = sb.run(["python3", "-c", flood, "/tmp", "/dev/shm", "/workspace"], timeout=60)
    limits = Limits()
    # each mount's root directory is one of its inodes
    assert r.stdout == (f"/tmp {limits.tmp_inodes - 1} ENOSPC\nlinks 0 ENOSPC\n/dev/shm {limits.tmp_inodes - 1} ENOSPC\n"
                        f"links 0 ENOSPC\n/workspace {limits.workspace_inodes - 1} ENOSPC\nlinks 0 ENOSPC\n"), r
    assert (r.exit_code, r.error) == (0, None)
    assert sb.run("print('alive')", timeout=5).stdout == "alive\n"
    assert sb.reset() == {"clean": True, "left": []}
    assert_clean_next_episode(pool)


def test_ipc_memory_cannot_outlive_its_processes(sb):
    r = sb.run("print(*(open('/proc/sys/kernel/' + k).read().strip() for k in ('shm_rmid_forced', 'shmall', 'msgmni')))",
               timeout=5)
    assert r.stdout == f"1 {Limits().tmp_size // 4096} 16\n", r


def test_infinite_loop_is_killed_at_the_timeout(sb, pool):
    t0 = time.monotonic()
    r = sb.run("while True: pass", timeout=1.0)
    assert (r.exit_code, r.timed_out, r.error) == (-9, True, None)
    assert 1.0 <= r.duration < 2.0 and time.monotonic() - t0 < 3.0
    assert "timed out after 1s" in r.stderr
    r = sb.run("import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass", timeout=0.5)
    assert (r.exit_code, r.timed_out) == (-9, True)
    assert other_pids(sb) == "[]"
    assert_clean_next_episode(pool)


def test_disk_fill_hits_the_workspace_limit(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno
        written = 0
        try:
            for i in range(100):
                with open(f'f{i}', 'wb') as f:
                    f.write(b'x' * (8 << 20)); written += 8
        except OSError as e:
            print(errno.errorcode[e.errno], written <= 64)
    """), timeout=20)
    assert r.stdout == "ENOSPC True\n", r
    r = sb.run("open('big', 'wb').write(b'x' * (40 << 20))", timeout=10)  # over RLIMIT_FSIZE
    assert r.exit_code != 0
    assert_clean_next_episode(pool)


def test_huge_output_is_capped(sb, pool):
    cap = Limits().max_output
    r = sb.run("print('y' * 200000)", timeout=5)
    assert (r.exit_code, r.truncated, len(r.stdout)) == (0, True, cap)
    t0 = time.monotonic()
    r = sb.run("while True: print('x' * 1000)", timeout=20)
    assert r.truncated and r.exit_code == -9 and not r.timed_out and len(r.stdout) == cap
    assert "output exceeded" in r.stderr and time.monotonic() - t0 < 15
    r = sb.run("head -c 100000000 /dev/zero | tr '\\0' z >&2", lang="sh", timeout=20)
    assert r.truncated and len(r.stderr) <= cap + 200
    assert_clean_next_episode(pool)


def test_host_files_are_not_reachable(sb, pool, tmp_path):
    secret = tmp_path / f"secret-{uuid.uuid4().hex}"
    secret.write_text("host secret")
    r = sb.run(textwrap.dedent(f"""
        import os
        print(os.path.exists({str(secret)!r}), os.path.exists('/var/run/docker.sock'), os.path.exists('/run/docker.sock'))
        try:
            open('/proc/1/environ').read(); print('read worker environ')
        except OSError as e:
            print(type(e).__name__)
        try:
            os.listdir('/proc/1/fd'); print('listed worker fds')
        except OSError as e:
            print(type(e).__name__)
    """), timeout=5)
    assert r.stdout == "False False False\nPermissionError\nPermissionError\n", r
    assert_clean_next_episode(pool)


def test_writing_outside_the_workspace_fails(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno
        for path in ['/etc/evil', '/usr/bin/evil', '/evil', '/proc/sys/kernel/hostname']:
            try:
                open(path, 'w').write('x'); print('wrote', path)
            except OSError as e:
                print(errno.errorcode[e.errno])
    """), timeout=5)
    assert r.stdout.split() == ["EROFS", "EROFS", "EROFS", "EROFS"] or "wrote" not in r.stdout, r
    assert "wrote" not in r.stdout
    with pytest.raises(ValueError):
        sb.put_files({"../escape.txt": "x"})
    with pytest.raises(ValueError):
        sb.get_file("/etc/passwd")
    sb.run("import os; os.symlink('/etc', 'link')", timeout=5)
    from sandboxes import SandboxError

    with pytest.raises(SandboxError, match="outside the workspace"):
        sb.get_file("link/passwd")
    r = sb.run("cp /bin/true /tmp/t && /tmp/t", lang="sh", timeout=5)
    assert r.exit_code == 126  # /tmp is noexec
    assert_clean_next_episode(pool)


def test_killing_the_worker_from_inside_fails(sb, pool):
    r = sb.run(textwrap.dedent("""
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
            os.kill(1, sig)
        try:
            os.kill(-1, signal.SIGKILL)   # everyone but us and PID 1: here, no one
        except ProcessLookupError:
            pass
        print('still here')
    """), timeout=5)
    assert (r.stdout, r.exit_code) == ("still here\n", 0), r
    assert sb.ping() and sb.run("print(2)", timeout=5).stdout == "2\n"
    assert_clean_next_episode(pool)


def test_worker_death_from_outside_gives_a_clear_result_and_the_pool_replaces_it(pool, client):
    with pool.sandbox(timeout=60) as sb:
        sb.kill_container()
        r = sb.run("print(1)", timeout=5)
        assert r.error and r.exit_code == -1 and "broken" in r.stderr
        assert sb.broken and not sb.ping()
    assert_clean_next_episode(pool)


def test_background_processes_do_not_outlive_the_call(sb, pool):
    t0 = time.monotonic()
    r = sb.run("sleep 30 & nohup sleep 40 >/dev/null 2>&1 & setsid sleep 50 & echo started", lang="sh", timeout=10)
    assert (r.stdout, r.exit_code) == ("started\n", 0)
    assert time.monotonic() - t0 < 2  # the call does not wait for its background children
    r = sb.run("import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True); print('ok')", timeout=5)
    assert r.stdout == "ok\n"
    assert other_pids(sb) == "[]"
    assert_clean_next_episode(pool)


def test_reset_wipes_within_an_episode(sb):
    sb.run("open('a', 'w').write('1'); open('/tmp/b', 'w').write('2'); import os; os.makedirs('d/e'); os.chmod('d', 0o500)", timeout=5)
    assert sb.reset() == {"clean": True, "left": []}
    assert sb.run("import os; print(os.listdir('.'), os.listdir('/tmp'))", timeout=5).stdout == "[] []\n"

#!/usr/bin/python3
"""bench/run.py: thriftd against Apache Thrift's own servers, same App, same client.

Modes (default: the full matrix):
  run.py                 the matrix; writes bench/RESULTS.md
  run.py --quick         a small matrix (ping 16/64, echo 64 KiB 16), one round
  run.py --smoke         every server, every method, short runs: replies checked only
  run.py --idle 10000    RSS with 10,000 idle connections
  run.py --callgrind     instructions per call under callgrind
  run.py --slow-clients  a good client's latency while slowloris and non-reading clients attack
  run.py --syscalls      system calls per call (strace -c)
--idle, --callgrind and --syscalls can be combined with the matrix (--with-idle,
--with-callgrind, --with-syscalls) so that one invocation writes the whole of RESULTS.md;
the full matrix runs the slow-clients test too (--no-slow-clients to skip it).
--baseline-thriftd PATH adds, to all of them, "before" variants of the fiber and thread
servers run by another thriftd binary (a build of an earlier commit), side by side.

Every server is started fresh for each measurement, and the servers of one
cell are run back to back, in an order rotated every round, so that drift on
this shared machine hits them all alike. Figures are medians over rounds;
ratios are taken within a round, then their median reported.
"""

import argparse
import datetime
import glob
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import slowclients  # noqa: E402  (bench/slowclients.py)
sys.path.insert(0, os.path.join(SRC_ROOT, 'tests', 'integration'))
import harness  # noqa: E402  (tests/integration/harness.py, stdlib only: its TlsFiles)
CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')


# ---------------------------------------------------------------- servers

class Server:
    """How to start one server configuration on a port."""

    def __init__(self, name, argv_fn, transports=('buffered', 'framed'), thriftd=False, group=''):
        self.name = name
        self.argv_fn = argv_fn
        self.transports = transports
        self.thriftd = thriftd
        self.group = group

    def argv(self, b, port, transport):
        return self.argv_fn(b, port, transport)


class Build:
    def __init__(self, build_dir):
        self.dir = os.path.abspath(build_dir)
        self.thriftd = os.path.join(self.dir, 'src', 'thriftd')
        self.app = os.path.join(self.dir, 'examples', 'libpingpong.so')
        self.loadgen = os.path.join(self.dir, 'bench', 'thriftd_loadgen')
        self.tls_loadgen = os.path.join(self.dir, 'bench', 'thriftd_tls_loadgen')
        self.peer = lambda name: os.path.join(self.dir, 'bench', 'peer_' + name)
        missing = [p for p in (self.thriftd, self.app, self.loadgen, self.tls_loadgen,
                               self.peer('raw')) if not os.path.exists(p)]
        if missing:
            sys.exit('run.py: not built: %s (ninja -C %s)' % (', '.join(missing), build_dir))
        self.has_nonblocking = os.path.exists(self.peer('nonblocking'))


def thriftd_server(kind, workers, threads=8, extra=(), baseline=None):
    """thriftd -k kind -w workers; with baseline=(label, path) the thriftd binary at path (a
    build of an earlier commit), serving the same App, named 'thriftd@label ...'."""
    name = '%s %s -w %s' % ('thriftd@' + baseline[0] if baseline else 'thriftd', kind, workers)
    if kind == 'thread':
        name += ' --threads %d' % threads

    def argv(b, port, transport):
        binary = baseline[1] if baseline else b.thriftd
        a = [binary, '-k', kind, '-w', str(workers), '-b', '127.0.0.1:%d' % port,
             '--thrift-transport-factory', transport, '--log-level', 'warning',
             '--worker-connections', '12000']
        if kind == 'thread':
            a += ['--threads', str(threads)]
        return a + list(extra) + [b.app]
    return Server(name, argv, thriftd=True, group='baseline' if baseline else 'thriftd')


def peer_server(name, peer, args=(), transports=('buffered', 'framed')):
    def argv(b, port, transport):
        return [b.peer(peer), '--app', b.app, '--port', str(port), '--transport', transport] + list(args)
    return Server(name, argv, transports=transports, group='peer')


NB = 'TNonblockingServer'
NB_TM = 'TNonblockingServer+TM4'
POOL = 'TThreadPoolServer 64'
THREADED = 'TThreadedServer'
RAW = 'raw epoll'


def base_name(args, name):
    """'thriftd fiber -w 1' -> 'thriftd@6ae219b fiber -w 1' (the same server, before)."""
    return name.replace('thriftd ', 'thriftd@%s ' % args.baseline[0], 1)


# The kinds the baseline runs: the ones the connection engine rebuilt.
BASELINE_KINDS = ('fiber', 'thread')


def all_servers(b, baseline=None):
    s = {}
    for kind in ('fiber', 'thread', 'sync'):
        for w in (2, 1):
            srv = thriftd_server(kind, w)
            s[srv.name] = srv
            if baseline and kind in BASELINE_KINDS:
                srv = thriftd_server(kind, w, baseline=baseline)
                s[srv.name] = srv
    if b.has_nonblocking:
        s[NB] = peer_server(NB, 'nonblocking', transports=('framed',))
        s[NB_TM] = peer_server(NB_TM, 'nonblocking', ['--thread-manager', '4'], transports=('framed',))
    s[POOL] = peer_server(POOL, 'threadpool', ['--threads', '64'])
    s[THREADED] = peer_server(THREADED, 'threaded')
    s[RAW] = peer_server(RAW, 'raw', ['--threads', '2'])
    return s


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def proc_table():
    """pid -> (ppid, utime+stime ticks)"""
    table = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(')') + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
        table[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    return table


def tree(pid, table=None):
    table = table or proc_table()
    children = {}
    for p, (pp, _) in table.items():
        children.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in table:
            out.append(p)
        todo.extend(children.get(p, []))
    return out, table


def tree_cpu(pid):
    pids, table = tree(pid)
    return sum(table[p][1] for p in pids) / CLK_TCK


def ctx_switches(pid):
    """Voluntary + involuntary context switches of every thread of one process."""
    n = 0
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/status' % (pid, tid)) as f:
                for line in f:
                    if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                        n += int(line.split()[1])
        except OSError:
            pass
    return n


def tree_sched(pid):
    """(CPU seconds, context switches) of the server's whole process tree."""
    pids, table = tree(pid)
    return (sum(table[p][1] for p in pids) / CLK_TCK, sum(ctx_switches(p) for p in pids))


def tree_sockets(pid):
    """Socket descriptors held by the server's process tree."""
    n = 0
    for p in tree(pid)[0]:
        try:
            fds = os.listdir('/proc/%d/fd' % p)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink('/proc/%d/fd/%s' % (p, fd)).startswith('socket:'):
                    n += 1
            except OSError:
                pass
    return n


def mem_of(pid):
    """(RSS, PSS) bytes of one process."""
    rss = pss = 0
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Rss:'):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith('Pss:'):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


def tree_mem(pid):
    """{'pss': tree PSS, 'rss_max': RSS of the largest process, 'rss_sum': ...}"""
    pids, _ = tree(pid)
    mems = [mem_of(p) for p in pids]
    return {'pss': sum(m[1] for m in mems), 'rss_max': max([m[0] for m in mems] or [0]),
            'rss_sum': sum(m[0] for m in mems), 'procs': len(pids)}


class Running:
    def __init__(self, b, server, transport, log_dir, wrap=(), env=None):
        self.server = server
        self.port = free_port()
        argv = list(wrap) + server.argv(b, self.port, transport)
        self.log = open(os.path.join(log_dir, 'server-%d.log' % self.port), 'w+')
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)

    def wait_ready(self, timeout=15):
        return wait_port(self.port, self.proc, timeout)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            # thriftd: INT is the quick stop; the peers exit on TERM.
            self.proc.send_signal(signal.SIGINT if self.server.thriftd else signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
        # Workers the master left behind (it should not).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        return self.proc.returncode

    def log_tail(self, n=15):
        self.log.flush()
        self.log.seek(0)
        return ''.join(self.log.readlines()[-n:])


def run_loadgen(b, port, transport, method, size, conns, warmup, duration, server_pid=None,
                client_threads=1, timeout=None, calls=0, tls_ca=None):
    """One loadgen run; with tls_ca (the CA's PEM), thriftd_tls_loadgen's
    TSSLSocket clients instead (ping and echo only, no --calls)."""
    if tls_ca:
        # Its blocking clients are a thread each, busy with crypto: at full
        # priority on 2 cores they would take the CPU from a server with few
        # threads (thriftd's) more than from one with a thread per connection,
        # and measure the scheduler. Niced, every server gets the CPU it asks for.
        argv = ['nice', '-n', '19', b.tls_loadgen, '--port', str(port), '--ca', tls_ca, '--transport', transport,
                '--method', method, '--size', str(size), '-c', str(conns), '--warmup', str(warmup),
                '--duration', str(duration)]
    else:
        argv = [b.loadgen, '--port', str(port), '--transport', transport, '--method', method,
                '--size', str(size), '-c', str(conns), '--threads', str(client_threads),
                '--warmup', str(warmup), '--duration', str(duration)]
    if calls:
        argv += ['--calls', str(calls)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu0 = cpu1 = t0 = t1 = cs0 = cs1 = None
    result = None
    for line in p.stdout:
        if line.startswith('MEASURE_START') and server_pid:
            t0, (cpu0, cs0) = time.monotonic(), tree_sched(server_pid)
        elif line.startswith('MEASURE_END') and server_pid:
            t1, (cpu1, cs1) = time.monotonic(), tree_sched(server_pid)
        elif line.startswith('RESULT '):
            result = json.loads(line[7:])
    try:
        p.wait(timeout or (warmup + duration + 60))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err = p.stderr.read()
    if result is None:
        return {'errors': 1, 'calls': 0, 'error_kinds': {'loadgen failed': 1}, 'stderr': err}
    if cpu0 is not None and cpu1 is not None:
        result['server_cpu_s'] = cpu1 - cpu0
        result['server_util'] = (cpu1 - cpu0) / max(t1 - t0, 1e-9)
        result['cpu_us_per_call'] = (cpu1 - cpu0) * 1e6 / result['calls'] if result['calls'] else None
        # Threads that exit in the interval take their counts with them (TThreadedServer's):
        # a negative difference means "unknown", not zero.
        result['cs_per_call'] = (cs1 - cs0) / result['calls'] if result['calls'] and cs1 >= cs0 else None
    return result


def measure(b, server, transport, cell, args, log_dir):
    method, size, conns = cell
    r = Running(b, server, transport, log_dir)
    try:
        if not r.wait_ready():
            return {'errors': 1, 'calls': 0, 'error_kinds': {'server did not start': 1},
                    'log': r.log_tail()}
        res = run_loadgen(b, r.port, transport, method, size, conns, args.warmup, args.duration,
                          server_pid=r.proc.pid, client_threads=args.client_threads)
        res['mem'] = tree_mem(r.proc.pid)
        if r.proc.poll() is not None:
            res['errors'] = res.get('errors', 0) + 1
            res.setdefault('error_kinds', {})['server exited'] = 1
        return res
    finally:
        r.stop()


# ---------------------------------------------------------------- smoke

def smoke(b, args):
    servers = all_servers(b)
    names = [n for n in servers if ' -w 1' not in n] if not args.servers else args.servers
    passed = failed = 0
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-')
    # A fixed number of calls, not a time: on a loaded machine 0.3 s could pass
    # before a peer answered its first call (seen: 0 calls, 0 errors, in CI). And
    # for echo, Thrift 0.17's TThreadPoolServer and TThreadedServer drop a
    # connection after ~100 MB (see RESULTS.md), which is not what the smoke
    # test is about.
    checks = [('ping', 0, 400), ('add', 0, 400), ('echo', 70000, 400)]
    for name in names:
        srv = servers[name]
        for transport in ('buffered', 'framed'):
            if transport not in srv.transports:
                print('n/a   %-28s %-8s (serves framed only)' % (name, transport))
                continue
            # A sync worker serves one connection at a time: -w 2 serves 2.
            conns = 2 if 'sync' in name else 4
            r = Running(b, srv, transport, log_dir)
            try:
                ok_start = r.wait_ready()
                for method, size, calls in checks:
                    if not ok_start:
                        res = {'errors': 1, 'calls': 0, 'error_kinds': {'server did not start': 1}}
                    else:
                        res = run_loadgen(b, r.port, transport, method, size, conns, 0.1,
                                          args.duration if args.duration_set else 0.3,
                                          calls=calls, timeout=60)
                    ok = (res.get('errors', 1) == 0 and res.get('calls', 0) > 0
                          and res.get('conns_served') == conns)
                    label = '%-28s %-8s %-5s' % (name, transport, method)
                    if ok:
                        passed += 1
                        print('ok    %s %7d calls, %d/%d connections served' %
                              (label, res['calls'], res['conns_served'], conns))
                    else:
                        failed += 1
                        print('FAIL  %s calls=%s errors=%s %s served=%s/%d %s' %
                              (label, res.get('calls'), res.get('errors'), res.get('error_kinds'),
                               res.get('conns_served'), conns, res.get('stderr', '')))
                        print(r.log_tail())
            finally:
                rc = r.stop()
                if srv.thriftd and rc not in (0, None):
                    print('note  %s exited with %s' % (name, rc))
            sys.stdout.flush()
    shutil.rmtree(log_dir, ignore_errors=True)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


# ---------------------------------------------------------------- TLS

TLS_POOL = 'TSSLServerSocket+TThreadPoolServer 64'


def tls_servers(cert, key):
    tls = ['--certfile', cert, '--keyfile', key]
    servers = [thriftd_server('fiber', 1, extra=tls), thriftd_server('thread', 1, extra=tls),
               thriftd_server('fiber', 2, extra=tls)]
    servers.append(peer_server(TLS_POOL, 'threadpool', ['--threads', '64'] + tls))
    return servers


def tls_bench(b, args):
    """TLS ping and echo 64 KiB: thriftd's kinds against the stock TSSLServerSocket
    TThreadPoolServer, same client (thriftd_tls_loadgen), same run, rounds rotated.
    Returns rows (cell, server name, [results])."""
    # The directory holds the server's private key: removed however the run ends.
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-tls-')
    try:
        return _tls_rounds(b, args, log_dir)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def _tls_rounds(b, args, log_dir):
    """tls_bench's rounds, with its certificates and server logs in log_dir."""
    tls = harness.TlsFiles(log_dir)  # P-256 keys; the server's signed by ca.pem
    cert, key = str(tls.server_cert), str(tls.server_key)
    servers = tls_servers(cert, key)
    cells = [('ping', 0, 1), ('ping', 0, 16), ('echo', 65536, 1), ('echo', 65536, 16)]
    if args.smoke:
        cells = [('ping', 0, 2), ('echo', 65536, 2)]
    results = {}
    for round_index in range(1 if args.smoke else args.rounds):
        for cell in cells:
            order = servers[round_index % len(servers):] + servers[:round_index % len(servers)]
            for srv in order:
                method, size, conns = cell
                r = Running(b, srv, args.transport if not args.smoke else 'buffered', log_dir)
                try:
                    if not r.wait_ready():
                        res = {'errors': 1, 'calls': 0, 'log': r.log_tail()}
                    else:
                        res = run_loadgen(b, r.port, args.transport if not args.smoke else 'buffered',
                                          method, size, conns, 0.1 if args.smoke else args.warmup,
                                          0.3 if args.smoke else args.duration,
                                          server_pid=r.proc.pid, tls_ca=str(tls.ca))
                finally:
                    r.stop()
                results.setdefault((cell, srv.name), []).append(res)
                print('%-10s %-40s %s' % ('%s:%d' % (method + (str(size) if size else ''), conns),
                                          srv.name, {k: res.get(k) for k in
                                                     ('rps', 'p99_us', 'cpu_us_per_call', 'errors')}))
                sys.stdout.flush()
    return [(cell, srv.name, results[(cell, srv.name)]) for cell in cells for srv in servers]


def tls_markdown(rows, args):
    out = ['## TLS', '',
           'TLS 1.3 (OpenSSL 3, P-256 certificate), %s transport, binary protocol; the client is '
           'thriftd_tls_loadgen (Apache Thrift C++ TSSLSocket, one thread per connection) for '
           'every server, in the same run, niced (19) so that its busy threads do not starve a '
           'server of few threads on this 2-core machine. Median of %d round(s) of %.1f s; CPU per call is the '
           'server\'s process tree. Ratio: the stock server\'s CPU per call over this one\'s '
           '(above 1: thriftd cheaper).' % (args.transport, args.rounds, args.duration), '',
           '| cell | server | req/s | p99 us | server CPU us/call | CPU ratio vs stock |',
           '|---|---|---|---|---|---|']
    stock = {}
    for cell, name, rs in rows:
        if name == TLS_POOL:
            stock[cell] = med([r.get('cpu_us_per_call') or 0 for r in rs])
    for cell, name, rs in rows:
        errors = sum(r.get('errors', 1) for r in rs)
        cpu = med([r.get('cpu_us_per_call') or 0 for r in rs])
        ratio = stock.get(cell, 0) / cpu if cpu else 0
        method, size, conns = cell
        out.append('| %s c=%d | %s | %s | %s | %s | %s |' % (
            method + (' %d B' % size if size else ''), conns, name,
            fmt(med([r.get('rps') or 0 for r in rs]), 0), fmt(med([r.get('p99_us') or 0 for r in rs]), 0),
            fmt(cpu, 1), fmt(ratio, 2) + (' (%d errors)' % errors if errors else '')))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- matrix

def matrix_cells(args):
    """[(cell, [server names])]; cell = (method, size, conns)"""
    w2 = ['thriftd fiber -w 2', 'thriftd thread -w 2 --threads 8', 'thriftd sync -w 2']
    w1 = ['thriftd fiber -w 1', 'thriftd thread -w 1 --threads 8', 'thriftd sync -w 1']
    peers = [NB, NB_TM, POOL, THREADED, RAW]

    def before(names):
        """The baseline's run of each fiber and thread server (with --baseline-thriftd)."""
        if not args.baseline:
            return []
        return [base_name(args, n) for n in names if n.split()[1] in BASELINE_KINDS]
    if args.quick:
        return [(('ping', 0, 16), w2 + before(w2) + peers), (('ping', 0, 64), w2 + before(w2) + peers),
                (('echo', 65536, 16), w2 + before(w2) + peers)]
    cells = []
    for conns in (1, 16, 64, 256):
        extra = ['thriftd sync -w %d' % conns] if conns in (16, 64) else []
        cells.append((('ping', 0, conns), w2 + w1 + extra + before(w2 + w1) + peers))
    for size in (4096, 65536):
        for conns in (1, 16, 64):
            td = w2 + ['thriftd fiber -w 1']
            cells.append((('echo', size, conns), td + before(td) + peers))
    if args.cells:
        # --cells ping:64,echo65536:1 : only those cells, every server of each.
        want = set()
        for spec in args.cells.split(','):
            m = re.match(r'(ping|echo)(\d*):(\d+)$', spec.strip())
            if not m:
                sys.exit('run.py: --cells %s: want METHOD[SIZE]:CONNS, e.g. ping:64,echo65536:1' % spec)
            want.add((m.group(1), int(m.group(2) or 0), int(m.group(3))))
        unknown = want - {cell for cell, _ in cells}
        if unknown:
            sys.exit('run.py: --cells: the full matrix has no cell %s' % ', '.join(
                '%s%s:%d' % (method, size or '', conns) for method, size, conns in sorted(unknown)))
        cells = [c for c in cells if c[0] in want]
    return cells


def server_by_name(servers, name):
    if name in servers:
        return servers[name]
    m = re.match(r'thriftd sync -w (\d+)$', name)
    if m:
        return thriftd_server('sync', int(m.group(1)))
    raise KeyError(name)


def run_matrix(b, args):
    servers = all_servers(b, args.baseline)
    cells = matrix_cells(args)
    transport = args.transport
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-')
    results = {}  # (cell, server) -> [result per round]
    total = sum(len(s) for _, s in cells) * args.rounds
    done = 0
    t_start = time.time()
    for rnd in range(args.rounds):
        for cell, names in cells:
            names = [n for n in names if transport in server_by_name(servers, n).transports]
            k = rnd % len(names)
            order = names[k:] + names[:k]
            if rnd % 2:
                order.reverse()
            for name in order:
                res = measure(b, server_by_name(servers, name), transport, cell, args, log_dir)
                res['round'] = rnd
                results.setdefault((cell, name), []).append(res)
                done += 1
                print('[%3d/%d %4.0fs] r%d %-5s %6d c=%-3d %-40s %9.0f/s cpu/call %6s us cs/call %5s p99 %7.1f  err %s%s' % (
                    done, total, time.time() - t_start, rnd, cell[0], cell[1], cell[2], name,
                    res.get('rps', 0), fmt(res.get('cpu_us_per_call'), 2), fmt(res.get('cs_per_call'), 2),
                    res.get('p99_us', 0),
                    res.get('errors'), ' served %s/%d' % (res.get('conns_served'), cell[2])
                    if res.get('conns_served') != cell[2] else ''))
                sys.stdout.flush()
    return cells, results, log_dir


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    if x is None:
        return 'n/a'
    return '%.*f' % (digits, x)


def round_ratios(rs_a, rs_b, key, inverse=False):
    """Median over rounds of a[key]/b[key], pairing results of the same round."""
    by_round = {r['round']: r for r in rs_b}
    out = []
    for r in rs_a:
        o = by_round.get(r['round'])
        if not o or not r.get(key) or not o.get(key):
            continue
        out.append(r[key] / o[key])
    return med(out)


def summarize(cells, results):
    summary = {}
    for cell, names in cells:
        for name in names:
            rs = results.get((cell, name))
            if not rs:
                continue
            s = {
                'rps': med(r.get('rps') for r in rs),
                'p50': med(r.get('p50_us') for r in rs),
                'p99': med(r.get('p99_us') for r in rs),
                'p999': med(r.get('p999_us') for r in rs),
                'cpu': med(r.get('cpu_us_per_call') for r in rs),
                'cs': med(r.get('cs_per_call') for r in rs),
                'util': med(r.get('server_util') for r in rs),
                'client_util': med(r.get('client_cpu_s', 0) / max(r.get('wall_s', 1), 1e-9) for r in rs),
                'served': min(r.get('conns_served') or 0 for r in rs),
                'errors': sum(r.get('errors', 0) for r in rs),
                'error_kinds': {},
                'fair': med((r.get('min_conn_calls', 0) / r['max_conn_calls']) if r.get('max_conn_calls') else None
                            for r in rs),
                'pss': med(r.get('mem', {}).get('pss') for r in rs),
                'rounds': len(rs),
            }
            for r in rs:
                for k, v in r.get('error_kinds', {}).items():
                    s['error_kinds'][k] = s['error_kinds'].get(k, 0) + v
            for ref, key in ((NB, 'x_nb'), (RAW, 'x_raw')):
                ref_rs = results.get((cell, ref))
                if ref_rs:
                    s[key] = round_ratios(rs, ref_rs, 'rps')
                    s[key + '_cpu'] = round_ratios(rs, ref_rs, 'cpu_us_per_call')
            summary[(cell, name)] = s
    return summary


def cell_title(cell):
    method, size, conns = cell
    what = 'ping' if method == 'ping' else '%s %s' % (method, ('%d KiB' % (size // 1024)) if size >= 1024 else '%d B' % size)
    return '%s, %d connection%s' % (what, conns, '' if conns == 1 else 's')


def matrix_markdown(cells, summary, args):
    out = []
    out.append('Columns: requests/s; latency percentiles in µs; server CPU µs per call (user+system '
               'of the whole process tree from /proc, over the measured interval, / calls); server '
               'CPU utilisation (1.0 = one core); ratios of requests/s to TNonblockingServer\'s '
               '(×NB) and of CPU per call to the raw epoll server\'s (CPU ×raw), each the median of '
               'per-round ratios; context switches of the server\'s threads per call (cs/call, '
               'voluntary + involuntary from /proc/PID/task/*/status); connections served (of those '
               'opened, worst round); fairness (fewest / most calls of one connection, median); '
               'errors (all rounds).\n')
    for cell, names in cells:
        out.append('### %s\n' % cell_title(cell))
        out.append('| server | req/s | p50 | p99 | p99.9 | CPU µs/call | CPU util | ×NB | CPU ×raw | cs/call | served | fair | errors |')
        out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
        for name in names:
            s = summary.get((cell, name))
            if s is None:
                out.append('| %s | n/a (framed only) ||||||||||||' % name if args.transport == 'buffered'
                           else '| %s | n/a ||||||||||||' % name)
                continue
            err = str(s['errors'])
            if s['errors']:
                err += ' ' + ', '.join('%s: %d' % kv for kv in sorted(s['error_kinds'].items()))
            out.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s | %s |' % (
                name, fmt(s['rps'], 0), fmt(s['p50']), fmt(s['p99']), fmt(s['p999']),
                fmt(s['cpu'], 2), fmt(s['util'], 2), fmt(s.get('x_nb'), 2), fmt(s.get('x_raw_cpu'), 2),
                fmt(s.get('cs'), 2), s['served'], cell[2], fmt(s['fair'], 2), err))
        out.append('')
    return '\n'.join(out)


# ---------------------------------------------------------------- idle

def idle(b, args, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 2000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    servers = [thriftd_server('fiber', 1), thriftd_server('thread', 1)]
    if args.baseline:
        servers += [thriftd_server('fiber', 1, baseline=args.baseline),
                    thriftd_server('thread', 1, baseline=args.baseline)]
    if b.has_nonblocking:
        servers.append(all_servers(b)[NB])
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-idle-')
    rows = []
    for srv in servers:
        samples = []
        for rnd in range(args.idle_rounds):
            r = Running(b, srv, 'framed', log_dir)
            try:
                if not r.wait_ready():
                    rows.append((srv.name, None, r.log_tail()))
                    break
                # One call first so that lazily built state exists in the baseline too.
                run_loadgen(b, r.port, 'framed', 'ping', 0, 1, 0.05, 0.2)
                time.sleep(0.3)
                before = tree_mem(r.proc.pid)
                lg = subprocess.Popen([b.loadgen, '--port', str(r.port), '--transport', 'framed',
                                       '--idle', str(n)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
                ready = lg.stdout.readline().split()
                time.sleep(1.0)
                after = tree_mem(r.proc.pid)
                lg.stdin.close()
                lg.wait(60)
                errs = int(ready[2]) if len(ready) == 3 else -1
                samples.append({'before': before, 'after': after, 'errors': errs,
                                'alive': r.proc.poll() is None})
            finally:
                r.stop()
            print('idle %-32s r%d: %s -> %s, errors %s' % (srv.name, rnd, before, after, errs))
        rows.append((srv.name, samples, None))
    return rows


def mib(x):
    return x / 1048576.0


def idle_markdown(rows, n):
    out = ['%d connections, each made one framed ping, then held open and idle (-w 1 for thriftd, '
           'so one worker holds them all; TNonblockingServer with its 2 IO threads). '
           '"worker RSS" is the RSS of the largest process of the server\'s tree (the worker for '
           'thriftd, the process for the peer); "tree PSS" counts pages shared between master and '
           'worker once. Medians of the rounds.\n' % n,
           '| server | worker RSS before | worker RSS with %d | tree PSS with %d | KiB per connection (worker RSS) | errors |' % (n, n),
           '|---|---:|---:|---:|---:|---:|']
    for name, samples, log in rows:
        if not samples:
            out.append('| %s | did not start ||||| ' % name)
            continue
        rb = med(s['before']['rss_max'] for s in samples)
        ra = med(s['after']['rss_max'] for s in samples)
        pa = med(s['after']['pss'] for s in samples)
        errs = sum(s['errors'] for s in samples)
        out.append('| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f | %d%s |' % (
            name, mib(rb), mib(ra), mib(pa), (ra - rb) / 1024.0 / n, errs,
            '' if all(s['alive'] for s in samples) else ' (server died)'))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- callgrind

def callgrind_totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith('summary:') or line.startswith('totals:'):
                return int(line.split()[1])
    return None


def callgrind_run(b, srv, calls, log_dir, keep_dir=None):
    out_dir = tempfile.mkdtemp(prefix='cg-', dir=log_dir)
    wrap = ['valgrind', '--tool=callgrind', '--trace-children=yes',
            '--callgrind-out-file=%s/callgrind.out.%%p' % out_dir]
    r = Running(b, srv, 'framed', log_dir, wrap=wrap)
    try:
        if not r.wait_ready(timeout=120):
            raise RuntimeError('%s did not start under valgrind:\n%s' % (srv.name, r.log_tail()))
        res = None
        if calls > 0:
            p = subprocess.run([b.loadgen, '--port', str(r.port), '--transport', 'framed',
                                '--method', 'ping', '-c', '1', '--calls', str(calls)],
                               capture_output=True, text=True, timeout=1800)
            for line in p.stdout.splitlines():
                if line.startswith('RESULT '):
                    res = json.loads(line[7:])
            if not res or res['errors'] or res['calls'] != calls:
                raise RuntimeError('%s: loadgen %s' % (srv.name, res or p.stderr))
        else:
            # A connection opened and closed, no call: the fixed cost.
            with socket.create_connection(('127.0.0.1', r.port)):
                pass
        time.sleep(0.5)
    finally:
        r.stop(timeout=120)
    files = glob.glob(os.path.join(out_dir, 'callgrind.out.*'))
    master = r.proc.pid
    if keep_dir:
        # The serving process's profile, for callgrind_annotate.
        os.makedirs(keep_dir, exist_ok=True)
        tag = re.sub(r'[^A-Za-z0-9@.-]+', '_', srv.name)
        for fpath in files:
            pid = int(fpath.rsplit('.', 1)[1])
            if not srv.thriftd or pid != master:
                shutil.copy(fpath, os.path.join(keep_dir, 'callgrind.%s.%d-calls.%d' % (tag, calls, pid)))
    per_pid = {}
    for fpath in files:
        pid = int(fpath.rsplit('.', 1)[1])
        per_pid[pid] = callgrind_totals(fpath) or 0
    # The serving process: for thriftd the worker (every process but the master).
    if srv.thriftd:
        serving = sum(v for p, v in per_pid.items() if p != master)
    else:
        serving = sum(per_pid.values())
    return serving, per_pid.get(master, 0), per_pid


def callgrind(b, args):
    if not shutil.which('valgrind'):
        return None
    servers = [thriftd_server('fiber', 1, extra=['-t', '0']),
               thriftd_server('thread', 1, extra=['-t', '0']),
               thriftd_server('sync', 1, extra=['-t', '0'])]
    if args.baseline:
        servers += [thriftd_server(kind, 1, extra=['-t', '0'], baseline=args.baseline)
                    for kind in BASELINE_KINDS]
    if b.has_nonblocking:
        servers.append(all_servers(b)[NB])
    servers.append(all_servers(b)[RAW])
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-cg-')
    base_calls, calls = args.callgrind_base, args.callgrind_calls
    rows = []
    for srv in servers:
        t0 = time.time()
        try:
            ir_base, m0, _ = callgrind_run(b, srv, base_calls, log_dir, args.callgrind_keep)
            ir_full, m1, _ = callgrind_run(b, srv, base_calls + calls, log_dir, args.callgrind_keep)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print('callgrind %s: %s' % (srv.name, e))
            rows.append((srv.name, None, None, None))
            continue
        per = (ir_full - ir_base) / calls
        print('callgrind %-40s %d calls: %d Ir, %d calls: %d Ir -> %.0f Ir/call (%.0fs)' % (
            srv.name, base_calls, ir_base, base_calls + calls, ir_full, per, time.time() - t0))
        rows.append((srv.name, per, ir_base, ir_full))
    shutil.rmtree(log_dir, ignore_errors=True)
    return rows


def callgrind_markdown(rows, args):
    out = ['Instructions (callgrind Ir) of the serving process per ping call, framed, 1 connection: '
           '(Ir with %d calls − Ir with %d calls) / %d, so start-up, connection set-up and '
           'shut-down cancel out. thriftd runs -w 1 -t 0 with the master under '
           '`valgrind --trace-children=yes`; its worker\'s callgrind.out is counted. All threads of a '
           'process are counted (TNonblockingServer: both IO threads).\n' % (
               args.callgrind_base + args.callgrind_calls, args.callgrind_base, args.callgrind_calls),
           '| server | Ir per call | ×TNonblockingServer | ×raw |', '|---|---:|---:|---:|']
    ref = {name: per for name, per, _, _ in rows}
    nb, raw = ref.get(NB), ref.get(RAW)
    for name, per, _, _ in rows:
        out.append('| %s | %s | %s | %s |' % (
            name, fmt(per, 0), fmt(per / nb if per and nb else None, 2),
            fmt(per / raw if per and raw else None, 2)))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- slow clients

SLOW_THRIFTD = ('thriftd thread -w 2 --threads 8', 'thriftd fiber -w 2')


def slow_servers(b, args):
    servers = [thriftd_server('thread', 2), thriftd_server('fiber', 2)]
    if args.baseline:
        servers += [thriftd_server('thread', 2, baseline=args.baseline),
                    thriftd_server('fiber', 2, baseline=args.baseline)]
    peers = all_servers(b)
    if b.has_nonblocking:
        servers.append(peers[NB])
    servers.append(peers[POOL])
    return servers


class Attacker:
    """bench/slowclients.py running against one server: slowloris and non-reading clients."""

    def __init__(self, port, args):
        self.proc = subprocess.Popen(
            ['/usr/bin/python3', os.path.join(HERE, 'slowclients.py'), '--port', str(port),
             '--slowloris', str(args.slow_slowloris), '--non-readers', str(args.slow_non_readers),
             '--size', str(args.slow_size), '--rcvbuf', str(args.slow_rcvbuf)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def line(self, tag, timeout):
        """The next line tagged `tag`, parsed; None if none comes within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                return None
            if line.startswith(tag + ' '):
                return json.loads(line[len(tag) + 1:])
        return None

    def stat(self):
        try:
            self.proc.stdin.write('STAT\n')
            self.proc.stdin.flush()
        except OSError:
            return None
        return self.line('STAT', 10)

    def stop(self):
        """Closes every attacking connection (the attacker resets them) and reaps it."""
        done = None
        try:
            self.proc.stdin.close()
            done = self.line('DONE', 20)
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return done


def slow_client_run(b, srv, args, log_dir):
    """One server: the good client quiet, then while the attack holds, then fresh connections."""
    r = Running(b, srv, 'framed', log_dir)
    att = None
    out = {'started': False}
    try:
        if not r.wait_ready():
            out['log'] = r.log_tail()
            return out
        out['started'] = True
        pid = r.proc.pid

        def good():
            return run_loadgen(b, r.port, 'framed', 'ping', 0, args.slow_good_conns, 0.3,
                               args.slow_duration, server_pid=pid, timeout=args.slow_duration + 30)
        out['quiet'] = good()
        time.sleep(0.2)
        out['mem_quiet'] = tree_mem(pid)
        out['socks_quiet'] = tree_sockets(pid)
        att = Attacker(r.port, args)
        out['ready'] = att.line('READY', 120)
        # Settled: the non-readers have filled every buffer the server lets them fill (their
        # bytes stop growing), or 15 s have passed.
        t0 = time.monotonic()
        last = att.stat()
        while last and time.monotonic() - t0 < 15:
            time.sleep(0.5)
            st = att.stat()
            if not st:
                break
            grew = st['non_reader_bytes'] - last['non_reader_bytes']
            last = st
            if time.monotonic() - t0 >= 1.5 and grew < (1 << 20):
                break
        out['settle_s'] = time.monotonic() - t0
        out['socks_attack'] = tree_sockets(pid)
        out['mem_attack1'] = tree_mem(pid)
        out['stat1'] = att.stat()
        out['attacked'] = good()
        out['fresh'] = slowclients.fresh_pings('127.0.0.1', r.port, args.slow_fresh, args.slow_fresh_timeout)
        out['mem_attack2'] = tree_mem(pid)
        out['stat2'] = att.stat()
        out['alive'] = r.proc.poll() is None
        out['done'] = att.stop()
        att = None
        return out
    finally:
        if att:
            att.stop()
        r.stop()


def slow_clients(b, args):
    want = args.slow_slowloris + args.slow_non_readers + args.slow_fresh + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, want)), hard))
    servers = slow_servers(b, args)
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-slow-')
    samples = {s.name: [] for s in servers}
    for rnd in range(args.slow_rounds):
        k = rnd % len(servers)
        order = servers[k:] + servers[:k]
        for srv in order:
            s = slow_client_run(b, srv, args, log_dir)
            s['round'] = rnd
            samples[srv.name].append(s)
            q, a, f = s.get('quiet', {}), s.get('attacked', {}), s.get('fresh', {})
            print('slow %-40s r%d: quiet p99 %7.1f (%d calls)  attacked p99 %7.1f (%d calls)  '
                  'fresh %s/%s (%.0f ms)  rss %.1f -> %.1f MiB  held %s  settle %.1fs' % (
                      srv.name, rnd, q.get('p99_us', 0), q.get('calls', 0), a.get('p99_us', 0),
                      a.get('calls', 0), f.get('served'), f.get('wanted'), f.get('max_ms', 0),
                      mib(s.get('mem_quiet', {}).get('rss_sum', 0)),
                      mib(s.get('mem_attack2', {}).get('rss_sum', 0)),
                      s.get('socks_attack', 0) - s.get('socks_quiet', 0), s.get('settle_s', 0)))
            sys.stdout.flush()
    shutil.rmtree(log_dir, ignore_errors=True)
    return [(s.name, samples[s.name]) for s in servers]


def slow_summary(samples):
    """Medians over rounds of one server's slow-client runs."""
    ok = [s for s in samples if s.get('started')]
    if not ok:
        return None

    def p99(r):
        # A good client never answered has no latency: unbounded.
        return r.get('p99_us') if r and r.get('calls') else None
    ratios = []
    for s in ok:
        q, a = p99(s.get('quiet')), p99(s.get('attacked'))
        ratios.append(a / q if q and a else (float('inf') if q else None))
    fresh = [s.get('fresh') or {} for s in ok]
    errs = {}

    def add(kind, n):
        if n:
            errs[kind] = errs.get(kind, 0) + n
    for s in ok:
        for phase in ('quiet', 'attacked'):
            r = s.get(phase) or {}
            for k, v in r.get('error_kinds', {}).items():
                add('%s client: %s' % (phase, k), v)
            if r.get('calls', 0) == 0:
                add('%s client: no reply' % phase, 1)
        for k, v in (s.get('fresh') or {}).get('failures', {}).items():
            add('fresh: %s' % k, v)
        st = s.get('stat2') or {}
        for k, v in st.get('closed_by_server', {}).items():
            add('%s closed by server' % k, v)
        for k, v in ((s.get('ready') or {}).get('failed') or {}).items():
            add('%s could not connect' % k, v)
        if not s.get('alive', True):
            add('server died', 1)
    rat = [x for x in ratios if x is not None]
    growth = [s['mem_attack2']['rss_sum'] - s['mem_attack1']['rss_sum'] for s in ok
              if s.get('mem_attack1') and s.get('mem_attack2')]
    taken = [s['stat2']['non_reader_bytes'] - s['stat1']['non_reader_bytes'] for s in ok
             if s.get('stat1') and s.get('stat2')]
    return {
        'quiet_p50': med((s.get('quiet') or {}).get('p50_us') for s in ok if p99(s.get('quiet'))),
        'quiet_p99': med(p99(s.get('quiet')) for s in ok),
        'att_p50': med((s.get('attacked') or {}).get('p50_us') for s in ok if p99(s.get('attacked'))),
        'att_p99': med(p99(s.get('attacked')) for s in ok),
        'att_served_rounds': sum(1 for s in ok if p99(s.get('attacked'))),
        'ratio': statistics.median(rat) if rat else None,
        'ratio_max': max(rat) if rat else None,
        'fresh_served': min(f.get('served', 0) for f in fresh),
        'fresh_wanted': max(f.get('wanted', 0) for f in fresh),
        'fresh_max_ms': med(f.get('max_ms') for f in fresh if f.get('served')),
        'held': med(s.get('socks_attack', 0) - s.get('socks_quiet', 0) for s in ok),
        'rss_quiet': med(s['mem_quiet']['rss_sum'] for s in ok if s.get('mem_quiet')),
        'rss_attack': med(s['mem_attack2']['rss_sum'] for s in ok if s.get('mem_attack2')),
        'rss_growth': max(growth) if growth else None,
        'taken': max(taken) if taken else None,
        'errors': errs, 'rounds': len(ok), 'all_rounds': len(samples),
    }


def slow_markdown(rows, args):
    out = ['A good client (%d connection%s, closed-loop framed ping, %.1f s measured) quiet, then again '
           'while %d slowloris connections (each sent the first %d bytes of a framed call; half then '
           'trickle one byte a second, half send nothing more) and %d non-reading clients (SO_RCVBUF '
           '%d; each pipelines framed echo %d KiB calls as fast as the server reads them and never '
           'reads a reply) are attached, once the non-readers have filled what the server lets them '
           'fill. Then %d fresh connections are opened at once; each must answer a ping within %g s. '
           '"held": attacking connections the server had accepted (socket descriptors of its process '
           'tree, attacked − quiet). RSS: sum over the server\'s process tree (master and workers), '
           'quiet and at the end of the attack; "growth" is the largest RSS growth between the start '
           'and the end of the measured attack (%.0f+ s apart), "taken" the bytes the non-readers got '
           'into the server in that time. Medians of %d rounds; the p99 ratio is the median of '
           'per-round ratios; fresh connections served: worst round.\n' % (
               args.slow_good_conns, '' if args.slow_good_conns == 1 else 's', args.slow_duration,
               args.slow_slowloris, 12, args.slow_non_readers, args.slow_rcvbuf, args.slow_size // 1024,
               args.slow_fresh, args.slow_fresh_timeout, args.slow_duration, args.slow_rounds),
           '| server | quiet p50 / p99 µs | attacked p50 / p99 µs | p99 attacked/quiet | fresh served '
           '| slowest fresh | held | RSS quiet | RSS attacked | growth | taken | errors |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for name, samples in rows:
        s = slow_summary(samples)
        if s is None:
            out.append('| %s | did not start |||||||||||' % name)
            continue
        errs = '; '.join('%s: %d' % kv for kv in sorted(s['errors'].items())) or '0'
        att = '%s / %s' % (fmt(s['att_p50']), fmt(s['att_p99'])) if s['att_p99'] else 'no reply'
        if s['att_p99'] and s['att_served_rounds'] < s['rounds']:
            att += ' (answered in %d/%d rounds)' % (s['att_served_rounds'], s['rounds'])
        out.append('| %s | %s / %s | %s | %s | %d/%d | %s | %s | %.1f MiB | %.1f MiB | %s | %s | %s |' % (
            name, fmt(s['quiet_p50']), fmt(s['quiet_p99']), att,
            '∞' if s['ratio'] == float('inf') else fmt(s['ratio'], 2),
            s['fresh_served'], s['fresh_wanted'],
            '%s ms' % fmt(s['fresh_max_ms'], 0) if s['fresh_max_ms'] is not None else '—',
            fmt(s['held'], 0), mib(s['rss_quiet'] or 0), mib(s['rss_attack'] or 0),
            '%.1f MiB' % mib(s['rss_growth']) if s['rss_growth'] is not None else 'n/a',
            '%.1f MiB' % mib(s['taken']) if s['taken'] is not None else 'n/a', errs))
    return '\n'.join(out) + '\n'


def rss_bounded(s):
    """The attack's RSS stopped growing: under 2 MiB or 5% more between the two samples."""
    if s is None or s['rss_growth'] is None or not s['rss_attack']:
        return None
    return s['rss_growth'] <= max(2 << 20, 0.05 * s['rss_attack'])


# ---------------------------------------------------------------- system calls

def serving_pids(srv, pid):
    """The processes that serve calls: thriftd's workers, or the peer itself."""
    if not srv.thriftd:
        return [pid]
    pids, table = tree(pid)
    return [p for p in pids if p != pid]


def strace_counts(path):
    """{syscall: calls} from an `strace -c` summary."""
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 5 or not parts[0][0].isdigit() or parts[-1] == 'total':
                    continue
                try:
                    counts[parts[-1]] = int(parts[3])
                except ValueError:
                    pass
    except OSError:
        pass
    return counts


# The syscalls perf counts one by one (with raw_syscalls:sys_enter for all of them).
PERF_SYSCALLS = ('epoll_wait', 'epoll_pwait', 'recvfrom', 'sendto', 'read', 'write', 'readv', 'writev',
                 'recvmsg', 'sendmsg', 'futex', 'epoll_ctl', 'ioctl', 'madvise', 'brk', 'mmap', 'munmap',
                 'timerfd_settime', 'accept4')


def perf_events():
    """perf stat's events, or None when perf or the syscall tracepoints are not there."""
    if not shutil.which('perf'):
        return None
    base = None
    for d in ('/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'):
        if os.path.isdir(os.path.join(d, 'raw_syscalls')):
            base = d
            break
    if base is None:
        return None
    ev = ['raw_syscalls:sys_enter', 'context-switches', 'page-faults']
    ev += ['syscalls:sys_enter_' + n for n in PERF_SYSCALLS
           if os.path.isdir(os.path.join(base, 'syscalls', 'sys_enter_' + n))]
    return ev


def perf_counts(path):
    """{name: count} from `perf stat -x,` output."""
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(',')
                if len(parts) < 3 or line.startswith('#'):
                    continue
                try:
                    v = float(parts[0])
                except ValueError:
                    continue  # <not counted>
                name = parts[2]
                name = {'raw_syscalls:sys_enter': 'all syscalls', 'context-switches': 'context switches',
                        'page-faults': 'page faults'}.get(name, name.replace('syscalls:sys_enter_', ''))
                counts[name] = v
    except OSError:
        pass
    return counts


def trace_run(b, srv, calls, conns, log_dir, tool):
    """Syscalls of the serving processes (every thread) over `calls` pings on `conns` connections,
    counted by `strace -c -f` (tool 'strace') or by perf stat on the syscall tracepoints ('perf')."""
    r = Running(b, srv, 'framed', log_dir)
    st = None
    try:
        if not r.wait_ready():
            raise RuntimeError('%s did not start' % srv.name)
        time.sleep(0.3)
        pids = serving_pids(srv, r.proc.pid)
        out = os.path.join(log_dir, '%s.%d.%d' % (tool, r.port, calls))
        if tool == 'strace':
            tids = []
            for p in pids:
                tids += os.listdir('/proc/%d/task' % p)
            argv = ['strace', '-c', '-f', '-o', out] + sum([['-p', t] for t in tids], [])
        else:
            argv = ['perf', 'stat', '-x,', '-o', out, '-e', ','.join(perf_events()),
                    '-p', ','.join(str(p) for p in pids)]
        st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # attached
        res = run_loadgen(b, r.port, 'framed', 'ping', 0, conns, 0, 0, calls=calls, timeout=300)
        if res.get('errors') or res.get('calls') != calls:
            raise RuntimeError('%s: loadgen %s' % (srv.name, res))
        st.send_signal(signal.SIGINT)
        st.wait(30)
        st = None
        return strace_counts(out) if tool == 'strace' else perf_counts(out)
    finally:
        if st:
            st.kill()
            st.wait()
        r.stop()


def syscalls(b, args):
    if not shutil.which('strace'):
        return None
    servers = [thriftd_server('fiber', 1), thriftd_server('thread', 1)]
    if args.baseline:
        servers += [thriftd_server(k, 1, baseline=args.baseline) for k in BASELINE_KINDS]
    peers = all_servers(b)
    if b.has_nonblocking:
        servers.append(peers[NB])
    servers.append(peers[RAW])
    log_dir = tempfile.mkdtemp(prefix='thriftd-bench-strace-')
    base, calls, conns = 2000, args.syscall_calls, 64
    tools = ['strace'] + (['perf'] if perf_events() else [])
    rows = []
    for srv in servers:
        row = {}
        for tool in tools:
            per = None
            try:
                c0 = trace_run(b, srv, base, conns, log_dir, tool)
                c1 = trace_run(b, srv, base + calls, conns, log_dir, tool)
                per = {k: (c1.get(k, 0) - c0.get(k, 0)) / calls for k in set(c0) | set(c1)}
                per = {k: v for k, v in per.items() if v >= 0.005}
                print('%-6s %-40s %s' % (tool, srv.name, ' '.join(
                    '%s %.2f' % kv for kv in sorted(per.items(), key=lambda kv: -kv[1]))))
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                print('%s %s: %s' % (tool, srv.name, e))
            row[tool] = per
        rows.append((srv.name, row))
    shutil.rmtree(log_dir, ignore_errors=True)
    return rows


def syscalls_markdown(rows, args):
    out = ['System calls of the serving processes (every thread) per ping call, framed, 64 connections, '
           '-w 1 for thriftd, (count with %d calls − count with 2000 calls) / %d, so connection set-up '
           'cancels out. Counted twice: by `strace -c -f -p` on every thread, which slows every syscall '
           'so that batching (calls per `epoll_wait`, events handed between threads) is not what it is '
           'at full speed; and by `perf stat` on the syscall tracepoints (all threads, full speed), '
           'with the context switches and page faults of the same interval.\n' % (
               2000 + args.syscall_calls, args.syscall_calls),
           '| server | strace: syscalls per call | by call (≥ 0.01) | perf: syscalls per call | by call (≥ 0.01) '
           '| context switches per call | page faults per call |', '|---|---:|---|---:|---|---:|---:|']
    special = ('all syscalls', 'context switches', 'page faults')
    for name, row in rows:
        st, pf = row.get('strace'), row.get('perf')

        def by_call(per):
            return ', '.join('%s %.2f' % kv for kv in sorted(per.items(), key=lambda kv: -kv[1])
                             if kv[1] >= 0.01 and kv[0] not in special)
        out.append('| %s | %s | %s | %s | %s | %s | %s |' % (
            name, '%.2f' % sum(st.values()) if st else 'n/a', by_call(st) if st else '',
            fmt(pf.get('all syscalls', 0), 2) if pf else 'n/a', by_call(pf) if pf else '',
            fmt(pf.get('context switches', 0), 2) if pf else 'n/a', fmt(pf.get('page faults', 0), 2) if pf else 'n/a'))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- before / after

def before_after_markdown(cells, summary, results, cg_rows, args):
    label = args.baseline[0]
    out = ['Each thriftd fiber and thread server of the matrix against the same server built from '
           '%s (`%s`), measured side by side in the same rounds (same cells, same rotation). '
           '"×" is after/before, the median of per-round ratios (req/s: > 1 is faster; CPU: < 1 is '
           'cheaper). CPU ×raw is CPU per call over raw epoll\'s in the same round.\n' % (
               label, args.baseline[1]),
           '| cell | server | req/s before → after | × | p99 µs before → after | CPU µs/call before → after | × '
           '| CPU ×raw before → after | cs/call before → after |',
           '|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for cell, names in cells:
        for name in names:
            if not name.startswith('thriftd ') or base_name(args, name) not in names:
                continue
            a, bb = summary.get((cell, name)), summary.get((cell, base_name(args, name)))
            if not a or not bb:
                continue
            ra, rb = results[(cell, name)], results[(cell, base_name(args, name))]
            out.append('| %s | %s | %s → %s | %s | %s → %s | %s → %s | %s | %s → %s | %s → %s |' % (
                cell_title(cell), name[len('thriftd '):], fmt(bb['rps'], 0), fmt(a['rps'], 0),
                fmt(round_ratios(ra, rb, 'rps'), 2), fmt(bb['p99']), fmt(a['p99']),
                fmt(bb['cpu'], 2), fmt(a['cpu'], 2), fmt(round_ratios(ra, rb, 'cpu_us_per_call'), 2),
                fmt(bb.get('x_raw_cpu'), 2), fmt(a.get('x_raw_cpu'), 2),
                fmt(bb.get('cs'), 2), fmt(a.get('cs'), 2)))
    if cg_rows:
        ref = {n: p for n, p, _, _ in cg_rows}
        out += ['', 'Instructions per ping call (callgrind, framed, 1 connection, -w 1; see below):', '',
                '| server | Ir per call before | after | × |', '|---|---:|---:|---:|']
        for kind in BASELINE_KINDS:
            name = thriftd_server(kind, 1).name
            a, bb = ref.get(name), ref.get(base_name(args, name))
            out.append('| %s | %s | %s | %s |' % (name[len('thriftd '):], fmt(bb, 0), fmt(a, 0),
                                                   fmt(a / bb if a and bb else None, 2)))
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------- report

def machine():
    model = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(['git', '-C', SRC_ROOT, 'rev-parse', '--short', 'HEAD'],
                                capture_output=True, text=True).stdout.strip()
        # Only what the measured binaries are built from (tests and docs do not count).
        dirty = subprocess.run(['git', '-C', SRC_ROOT, 'status', '--porcelain', '--untracked-files=no', '--',
                                'src', 'workers', 'include', 'examples', 'bench', 'meson.build',
                                'meson_options.txt', ':(exclude)bench/RESULTS.md'],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += ' (with uncommitted changes)'
    except OSError:
        commit = '?'
    load = open('/proc/loadavg').read().split()[:3]
    return {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M %Z').strip(),
            'commit': commit, 'nproc': os.cpu_count(), 'cpu': model,
            'kernel': os.uname().release, 'load': ' '.join(load)}


def targets_markdown(summary, idle_rows, cg_rows, slow_rows=None, args=None):
    def get(cell, name, key):
        s = summary.get((cell, name))
        return s.get(key) if s else None

    def verdict(ok):
        return 'n/a' if ok is None else ('**met**' if ok else '**missed**')

    out = ['| target | measured | verdict |', '|---|---|---|']
    c64 = ('ping', 0, 64)
    fib = 'thriftd fiber -w 2'
    x = get(c64, fib, 'x_nb')
    out.append('| ping, 64 conns, -w 2: fiber req/s ≥ 1.25× TNonblockingServer | %s× (%s vs %s req/s) | %s |' % (
        fmt(x, 2), fmt(get(c64, fib, 'rps'), 0), fmt(get(c64, NB, 'rps'), 0), verdict(None if x is None else x >= 1.25)))
    x = get(c64, fib, 'x_raw_cpu')
    out.append('| … fiber CPU per call ≤ 1.25× raw epoll | %s× (%s vs %s µs/call; TNonblockingServer %s) | %s |' % (
        fmt(x, 2), fmt(get(c64, fib, 'cpu'), 2), fmt(get(c64, RAW, 'cpu'), 2), fmt(get(c64, NB, 'cpu'), 2),
        verdict(None if x is None else x <= 1.25)))
    a, bb = get(c64, fib, 'p99'), get(c64, NB, 'p99')
    served = get(c64, fib, 'served')
    # A connection never answered has no latency sample: its p99 is unbounded.
    out.append('| … fiber p99 ≤ TNonblockingServer p99 | %s vs %s µs; fiber served %s/64 connections (worst round) | %s |' % (
        fmt(a), fmt(bb), served, verdict(None if a is None or bb is None else (a <= bb and served == 64))))
    for name in ('thriftd fiber -w 1', 'thriftd thread -w 1 --threads 8'):
        x = get(c64, name, 'x_raw_cpu')
        before = ''
        if args is not None and args.baseline and get(c64, base_name(args, name), 'x_raw_cpu'):
            before = '; before (%s) %s×' % (args.baseline[0], fmt(get(c64, base_name(args, name), 'x_raw_cpu'), 2))
        out.append('| ping, 64 conns, -w 1: %s CPU per call ≤ 1.25× raw epoll | %s× (%s vs %s µs/call%s) | %s |' % (
            name.split()[1], fmt(x, 2), fmt(get(c64, name, 'cpu'), 2), fmt(get(c64, RAW, 'cpu'), 2), before,
            verdict(None if x is None else x <= 1.25)))
    thr = 'thriftd thread -w 2 --threads 8'
    for conns in (16, 64):
        c = ('ping', 0, conns)
        a, bb = get(c, thr, 'rps'), get(c, POOL, 'rps')
        out.append('| ping, %d conns: thread req/s ≥ TThreadPoolServer | %s vs %s req/s (%s×) | %s |' % (
            conns, fmt(a, 0), fmt(bb, 0), fmt(a / bb if a and bb else None, 2),
            verdict(None if a is None or bb is None else a >= bb)))
    c256 = ('ping', 0, 256)
    a, bb = get(c256, thr, 'served'), get(c256, POOL, 'served')
    out.append('| ping, 256 conns: thread (--threads 8) serves 256/256 | thread %s/256, TThreadPoolServer(64) %s/256 | %s |' % (
        a, bb, verdict(None if a is None else a == 256)))
    for conns in (16, 64):
        c = ('ping', 0, conns)
        a, bb = get(c, 'thriftd sync -w %d' % conns, 'rps'), get(c, THREADED, 'rps')
        out.append('| ping, %d conns: sync -w %d req/s ≥ TThreadedServer | %s vs %s req/s (%s×) | %s |' % (
            conns, conns, fmt(a, 0), fmt(bb, 0), fmt(a / bb if a and bb else None, 2),
            verdict(None if a is None or bb is None else a >= bb)))
    if idle_rows:
        rss = {name: med(s['after']['rss_max'] for s in samples) if samples else None
               for name, samples, _ in idle_rows}
        nb = rss.get(NB)
        for name in ('thriftd fiber -w 1', 'thriftd thread -w 1 --threads 8'):
            v = rss.get(name)
            out.append('| 10,000 idle: %s worker RSS ≤ TNonblockingServer | %s vs %s MiB | %s |' % (
                name, fmt(mib(v) if v else None), fmt(mib(nb) if nb else None),
                verdict(None if not v or not nb else v <= nb)))
    for conns in (1, 16, 64):
        c = ('echo', 65536, conns)
        best_peer = None
        for p in (NB, NB_TM, POOL, THREADED):
            v = get(c, p, 'rps')
            if v and (best_peer is None or v > best_peer[1]):
                best_peer = (p, v)
        best_td = None
        for t in (fib, thr, 'thriftd sync -w 2'):
            v = get(c, t, 'rps')
            if v and (best_td is None or v > best_td[1]):
                best_td = (t, v)
        if best_peer and best_td:
            out.append('| echo 64 KiB, %d conns: best thriftd within 10%% of best Thrift peer | %s %.0f vs %s %.0f req/s (%.2f×; fiber %s×) | %s |' % (
                conns, best_td[0], best_td[1], best_peer[0], best_peer[1], best_td[1] / best_peer[1],
                fmt((get(c, fib, 'rps') or 0) / best_peer[1], 2), verdict(best_td[1] >= 0.9 * best_peer[1])))
    for name, samples in slow_rows or []:
        if name not in SLOW_THRIFTD:
            continue
        s = slow_summary(samples)
        if s is None:
            out.append('| slow clients: %s | did not start | **missed** |' % name)
            continue
        r = s['ratio']
        out.append('| slow clients, %s: good client\'s p99 attacked ≤ 2× quiet | %s× (%s vs %s µs; worst round %s×) | %s |' % (
            name, '∞' if r == float('inf') else fmt(r, 2), fmt(s['att_p99']), fmt(s['quiet_p99']),
            '∞' if s['ratio_max'] == float('inf') else fmt(s['ratio_max'], 2),
            verdict(None if r is None else r <= 2.0)))
        out.append('| … every fresh connection answers a ping within %g s | %d/%d (worst round; slowest %s ms) | %s |' % (
            args.slow_fresh_timeout, s['fresh_served'], s['fresh_wanted'], fmt(s['fresh_max_ms'], 0),
            verdict(s['fresh_served'] == s['fresh_wanted'])))
        out.append('| … RSS bounded under the attack | %.1f MiB attacked vs %.1f quiet (tree); grew %s during the attack, non-readers got %s in | %s |' % (
            mib(s['rss_attack'] or 0), mib(s['rss_quiet'] or 0),
            '%.1f MiB' % mib(s['rss_growth']) if s['rss_growth'] is not None else 'n/a',
            '%.1f MiB' % mib(s['taken']) if s['taken'] is not None else 'n/a', verdict(rss_bounded(s))))
    if cg_rows:
        ref = {n: p for n, p, _, _ in cg_rows}
        if ref.get('thriftd fiber -w 1') and ref.get(NB):
            out.append('| (no target) callgrind: fiber Ir per ping vs TNonblockingServer | %.0f vs %.0f (%.2f×) | — |' % (
                ref['thriftd fiber -w 1'], ref[NB], ref['thriftd fiber -w 1'] / ref[NB]))
    return '\n'.join(out) + '\n'


def write_results(path, m, args, cells=None, summary=None, idle_rows=None, cg_rows=None, notes='',
                  results=None, slow_rows=None, sys_rows=None):
    out = ['# thriftd benchmark results', '',
           'Written by `bench/run.py` (%s). Do not edit the figures by hand; re-run instead.' % ' '.join(sys.argv[1:]), '',
           '- date: %s' % m['date'], '- commit: %s' % m['commit'],
           '- machine: %s CPUs (`nproc`), %s, Linux %s; load average at start %s, at the end %s' % (
               m['nproc'], m['cpu'], m['kernel'], m['load'], ' '.join(open('/proc/loadavg').read().split()[:3])),
           '- client: bench/thriftd_loadgen, %d thread, closed loop, strict binary protocol, %s transport; '
           'every reply checked (type, method, seqid, value)' % (args.client_threads, args.transport),
           '- servers: every one serves build/examples/libpingpong.so (the Thrift peers dlopen it and '
           'take its processor factory through thriftd::App), 127.0.0.1 only',
           '- method: %d rounds; in each, every cell runs every server back to back in a rotated order, '
           'each started fresh; %.1f s warm-up then %.1f s measured' % (args.rounds, args.warmup, args.duration),
           '']
    if args.baseline:
        out[-1:-1] = ['- before: `thriftd@%s` is %s, a build of commit %s, serving the same '
                      'libpingpong.so' % (args.baseline[0], args.baseline[1], args.baseline[0])]
    if notes:
        out += [notes, '']
    if summary is not None:
        out += ['## Targets', '', targets_markdown(summary, idle_rows, cg_rows, slow_rows, args), '']
        if args.baseline and results is not None:
            out += ['## Before / after (%s → %s)' % (args.baseline[0], m['commit']), '',
                    before_after_markdown(cells, summary, results, cg_rows, args), '']
        out += ['## Matrix', '', matrix_markdown(cells, summary, args), '']
    if slow_rows is not None:
        out += ['## Slow and non-reading clients', '', slow_markdown(slow_rows, args), '']
    if idle_rows is not None:
        out += ['## Idle connections', '', idle_markdown(idle_rows, args.idle or 10000), '']
    if cg_rows is not None:
        out += ['## Instructions per call (callgrind)', '', callgrind_markdown(cg_rows, args), '']
    if sys_rows is not None:
        out += ['## System calls per call (strace, perf)', '', syscalls_markdown(sys_rows, args), '']
    with open(path, 'w') as f:
        f.write('\n'.join(out))
    print('wrote', path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build-dir', default=os.path.join(SRC_ROOT, 'build'))
    ap.add_argument('--smoke', action='store_true', help='every server, short runs, replies checked only')
    ap.add_argument('--quick', action='store_true', help='a small matrix')
    ap.add_argument('--cells', help='only these cells of the full matrix, e.g. ping:64,echo65536:1')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--duration', type=float, default=None, help='measured seconds per run [2]')
    ap.add_argument('--warmup', type=float, default=0.5)
    ap.add_argument('--transport', default='framed', choices=('framed', 'buffered'),
                    help='the matrix transport [framed: TNonblockingServer serves nothing else]')
    ap.add_argument('--client-threads', type=int, default=1)
    ap.add_argument('--idle', type=int, default=0, metavar='N', help='only the idle-connections RSS test')
    ap.add_argument('--idle-rounds', type=int, default=2)
    ap.add_argument('--callgrind', action='store_true', help='only the callgrind test')
    ap.add_argument('--callgrind-calls', type=int, default=20000)
    ap.add_argument('--callgrind-base', type=int, default=1000)
    ap.add_argument('--with-idle', type=int, default=0, metavar='N', help='matrix, then the idle test')
    ap.add_argument('--with-callgrind', action='store_true', help='matrix, then the callgrind test')
    ap.add_argument('--callgrind-keep', metavar='DIR', help='keep the serving processes\' callgrind.out files here')
    ap.add_argument('--baseline-thriftd', metavar='PATH',
                    help='also run this thriftd binary (a build of an earlier commit) as "before" '
                    'variants of the fiber and thread servers in the matrix, idle, callgrind, '
                    'slow-client and syscall tests')
    ap.add_argument('--baseline-label', help='its name in the tables [the short commit of the git '
                    'work tree holding PATH]')
    ap.add_argument('--slow-clients', action='store_true', help='only the slow-clients test')
    ap.add_argument('--with-slow-clients', action='store_true',
                    help='matrix, then the slow-clients test (the default unless --quick)')
    ap.add_argument('--no-slow-clients', action='store_true', help='matrix without the slow-clients test')
    ap.add_argument('--slow-rounds', type=int, default=None, help='[--rounds]')
    ap.add_argument('--slow-duration', type=float, default=3.0, help='the good client\'s measured seconds [3]')
    ap.add_argument('--slow-good-conns', type=int, default=1, help='the good client\'s connections [1]')
    ap.add_argument('--slow-slowloris', type=int, default=1000)
    ap.add_argument('--slow-non-readers', type=int, default=100)
    ap.add_argument('--slow-size', type=int, default=65536, help='the non-readers\' echo size')
    ap.add_argument('--slow-rcvbuf', type=int, default=4096, help='the non-readers\' SO_RCVBUF')
    ap.add_argument('--slow-fresh', type=int, default=20, help='fresh connections opened during the attack')
    ap.add_argument('--slow-fresh-timeout', type=float, default=2.0)
    ap.add_argument('--syscalls', action='store_true', help='only the syscalls-per-call test (strace)')
    ap.add_argument('--with-syscalls', action='store_true', help='matrix, then the syscalls test')
    ap.add_argument('--syscall-calls', type=int, default=20000)
    ap.add_argument('--servers', nargs='*', help='smoke: only these servers')
    ap.add_argument('--tls', action='store_true',
                    help='only the TLS test: ping and echo 64 KiB against TSSLServerSocket')
    ap.add_argument('--output', default=os.path.join(HERE, 'RESULTS.md'))
    ap.add_argument('--json', help='also dump raw results here')
    args = ap.parse_args()
    if args.cells and args.quick:
        ap.error('--cells picks cells of the full matrix; --quick has its own')
    if args.cells and args.output == os.path.join(HERE, 'RESULTS.md'):
        ap.error('--cells measures part of the matrix: give --output, RESULTS.md holds the whole')
    args.duration_set = args.duration is not None
    if args.duration is None:
        args.duration = 2.0
    b = Build(args.build_dir)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args.baseline = None
    if args.baseline_thriftd:
        path = os.path.abspath(args.baseline_thriftd)
        if not os.access(path, os.X_OK):
            sys.exit('run.py: --baseline-thriftd %s: not an executable' % path)
        label = args.baseline_label or subprocess.run(
            ['git', '-C', os.path.dirname(path), 'rev-parse', '--short', 'HEAD'],
            capture_output=True, text=True).stdout.strip() or 'baseline'
        args.baseline = (label, path)
    if args.slow_rounds is None:
        args.slow_rounds = args.rounds

    if args.smoke:
        status = smoke(b, args)
        rows = tls_bench(b, args)
        tls_failed = [(c, n) for c, n, rs in rows if any(r.get('errors', 1) or not r.get('calls')
                                                         for r in rs)]
        print('TLS: %d passed, %d failed %s' % (len(rows) - len(tls_failed), len(tls_failed),
                                                 tls_failed or ''))
        return status or (1 if tls_failed else 0)
    if args.tls:
        print(tls_markdown(tls_bench(b, args), args))
        return 0
    m = machine()
    if args.slow_clients:
        print(slow_markdown(slow_clients(b, args), args))
        return 0
    if args.syscalls:
        print(syscalls_markdown(syscalls(b, args) or [], args))
        return 0
    if args.quick:
        args.rounds = min(args.rounds, 1) if args.rounds == 3 else args.rounds
    if args.idle and not args.callgrind:
        rows = idle(b, args, args.idle)
        print(idle_markdown(rows, args.idle))
        return 0
    if args.callgrind and not args.idle:
        rows = callgrind(b, args)
        print(callgrind_markdown(rows or [], args))
        return 0
    cells, results, log_dir = run_matrix(b, args)
    summary = summarize(cells, results)
    idle_rows = cg_rows = None
    if args.with_idle:
        args.idle = args.with_idle
        idle_rows = idle(b, args, args.with_idle)
    if args.with_callgrind:
        cg_rows = callgrind(b, args)
    slow_rows = sys_rows = None
    if args.with_slow_clients or not (args.quick or args.cells or args.no_slow_clients):
        slow_rows = slow_clients(b, args)
    if args.with_syscalls:
        sys_rows = syscalls(b, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'machine': m, 'results': [
                {'cell': list(c), 'server': n, 'runs': rs} for (c, n), rs in results.items()],
                'idle': idle_rows, 'callgrind': cg_rows, 'slow_clients': slow_rows,
                'syscalls': sys_rows}, f, indent=1, default=str)
    write_results(args.output, m, args, cells, summary, idle_rows, cg_rows, results=results,
                  slow_rows=slow_rows, sys_rows=sys_rows)
    print(matrix_markdown(cells, summary, args))
    shutil.rmtree(log_dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

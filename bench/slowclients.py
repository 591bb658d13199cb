#!/usr/bin/python3
"""bench/slowclients.py: clients that hold a server's resources without letting it finish work.

  slowclients.py --port P [--slowloris 1000] [--non-readers 100] [--size 65536] [--rcvbuf 4096]

--slowloris N   N connections; each sends the first bytes of a framed echo call (its frame
                length and part of the message header), then half of them trickle one more
                byte a second (spread evenly over the second) and the other half send nothing
                more. The call never completes.
--non-readers M M connections with a small SO_RCVBUF; each pipelines framed echo calls of
                --size bytes as fast as the server reads them and never reads a reply, so the
                replies back up into the server.

Prints "READY {json}" once every connection is open (or failed to), then "STAT {json}" for
every line read on stdin; when stdin closes (or on SIGTERM) it closes every connection with a
reset (SO_LINGER 0, so no TIME_WAIT is left behind) and prints "DONE {json}". Everything is on
127.0.0.1 unless --host says otherwise. bench/run.py --slow-clients drives it.

fresh_pings() (imported by run.py) opens connections at once and checks that each is answered
a framed ping within a deadline.
"""

import argparse
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

T_CALL, T_REPLY = 1, 2
T_STRING, T_STOP = 11, 0


def message(mtype, name, seqid, body=b''):
    """A strict binary protocol message."""
    n = name.encode()
    return (struct.pack('>I', 0x80010000 | mtype) + struct.pack('>i', len(n)) + n +
            struct.pack('>i', seqid) + body)


def framed(msg):
    return struct.pack('>i', len(msg)) + msg


def echo_call(seqid, size):
    data = bytes((i * 131 + seqid) & 0xff for i in range(size))
    args = struct.pack('>bh', T_STRING, 1) + struct.pack('>i', len(data)) + data + bytes([T_STOP])
    return framed(message(T_CALL, 'echo', seqid, args))


def ping_call(seqid):
    return framed(message(T_CALL, 'ping', seqid, bytes([T_STOP])))


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))


def reset_on_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))


def connect(host, port, timeout, rcvbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # Before connect(), so the window it advertises is small from the start.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    reset_on_close(s)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError:
        s.close()
        return None
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    return s


# ---------------------------------------------------------------- fresh connections

def fresh_pings(host, port, n, timeout):
    """Opens n connections together, sends each a framed ping and waits for every reply.

    A connection counts as served when a whole, well-formed ping reply arrives within `timeout`
    seconds of its call being sent. Returns {'opened', 'served', 'max_ms', 'failures': {...}}.
    """
    ep = select.epoll()
    conns = {}
    failures = {}
    t_start = time.monotonic()
    for i in range(n):
        s = connect(host, port, timeout)
        if s is None:
            failures['connect'] = failures.get('connect', 0) + 1
            continue
        req = ping_call(7000 + i)
        try:
            s.send(req)
        except OSError:
            failures['send'] = failures.get('send', 0) + 1
            s.close()
            continue
        conns[s.fileno()] = {'sock': s, 'buf': b'', 'sent_at': time.monotonic(), 'seqid': 7000 + i}
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
    served, worst = 0, 0.0
    while conns:
        now = time.monotonic()
        deadline = min(c['sent_at'] for c in conns.values()) + timeout
        if now >= deadline:
            break
        for fd, _ in ep.poll(deadline - now):
            c = conns.get(fd)
            if c is None:
                continue
            try:
                data = c['sock'].recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            verdict = None
            if not data:
                verdict = 'closed by server'
            else:
                c['buf'] += data
                verdict = check_ping_reply(c['buf'], c['seqid'])
            if verdict == 'more':
                continue
            if verdict == 'ok':
                served += 1
                worst = max(worst, time.monotonic() - c['sent_at'])
            else:
                failures[verdict] = failures.get(verdict, 0) + 1
            ep.unregister(fd)
            c['sock'].close()
            del conns[fd]
    if conns:
        failures['no reply within %gs' % timeout] = len(conns)
    for c in conns.values():
        c['sock'].close()
    ep.close()
    return {'opened': n - failures.get('connect', 0), 'served': served, 'wanted': n,
            'max_ms': worst * 1000.0, 'failures': failures,
            'elapsed_s': time.monotonic() - t_start}


def check_ping_reply(buf, seqid):
    if len(buf) < 4:
        return 'more'
    (flen,) = struct.unpack('>i', buf[:4])
    if flen <= 0 or flen > 1 << 20:
        return 'bad frame'
    if len(buf) < 4 + flen:
        return 'more'
    m = buf[4:4 + flen]
    try:
        (ver,) = struct.unpack('>I', m[:4])
        (nlen,) = struct.unpack('>i', m[4:8])
        name = m[8:8 + nlen]
        (sid,) = struct.unpack('>i', m[8 + nlen:12 + nlen])
        body = m[12 + nlen:]
    except struct.error:
        return 'malformed reply'
    if ver != 0x80010000 | T_REPLY or name != b'ping' or sid != seqid:
        return 'wrong reply'
    # field 0: string "pong"
    if body[:3] != struct.pack('>bh', T_STRING, 0) or body[3:11] != struct.pack('>i', 4) + b'pong':
        return 'wrong value'
    return 'ok'


# ---------------------------------------------------------------- the attack

class Attack:
    def __init__(self, args):
        self.args = args
        self.ep = select.epoll()
        self.slow = {}      # fd -> {'sock', 'rest' (bytes still to trickle), 'trickle'}
        self.readers = {}   # fd -> {'sock', 'off', 'sent'}
        self.closed = {'slowloris': 0, 'non-reader': 0}
        self.failed = {'slowloris': 0, 'non-reader': 0}
        self.trickled = 0
        self.nonreader_bytes = 0
        self.nonreader_calls = 0
        self.stream = echo_call(1, args.size) * 4
        self.call_len = len(self.stream) // 4
        self.t0 = time.monotonic()

    def open(self):
        a = self.args
        call = echo_call(2, 1024)
        head = a.first_bytes
        for i in range(a.slowloris):
            s = connect(a.host, a.port, 3.0)
            if s is None:
                self.failed['slowloris'] += 1
                continue
            try:
                s.send(call[:head])
            except OSError:
                self.failed['slowloris'] += 1
                s.close()
                continue
            self.slow[s.fileno()] = {'sock': s, 'rest': call[head:], 'trickle': i % 2 == 0}
            # Only to see the server close it: a slowloris never gets a reply.
            self.ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        for _ in range(a.non_readers):
            s = connect(a.host, a.port, 3.0, rcvbuf=a.rcvbuf)
            if s is None:
                self.failed['non-reader'] += 1
                continue
            self.readers[s.fileno()] = {'sock': s, 'off': 0, 'sent': 0}
            # EPOLLOUT: room to pipeline more; EPOLLRDHUP: the server closed it. Never EPOLLIN.
            self.ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLRDHUP)
        self.trickling = [fd for fd, c in self.slow.items() if c['trickle']]
        self.t0 = time.monotonic()

    def stats(self):
        return {'slowloris': len(self.slow), 'non_readers': len(self.readers),
                'failed': self.failed, 'closed_by_server': self.closed,
                'trickled_bytes': self.trickled, 'non_reader_bytes': self.nonreader_bytes,
                'non_reader_calls_sent': self.nonreader_bytes // self.call_len,
                'seconds': round(time.monotonic() - self.t0, 3)}

    def drop(self, fd, kind):
        table = self.slow if kind == 'slowloris' else self.readers
        c = table.pop(fd, None)
        if c is None:
            return
        self.closed[kind] += 1
        try:
            self.ep.unregister(fd)
        except OSError:
            pass
        c['sock'].close()

    def pump(self, fd):
        c = self.readers[fd]
        while True:
            try:
                n = c['sock'].send(memoryview(self.stream)[c['off']:])
            except BlockingIOError:
                return
            except OSError:
                self.drop(fd, 'non-reader')
                return
            self.nonreader_bytes += n
            c['off'] = (c['off'] + n) % self.call_len

    def trickle_due(self, done):
        """Sends the trickles due by now (each trickler one byte a second, spread evenly)."""
        if not self.trickling:
            return done
        due = int((time.monotonic() - self.t0) * len(self.trickling))
        while done < due:
            fd = self.trickling[done % len(self.trickling)]
            done += 1
            c = self.slow.get(fd)
            if c is None or not c['rest']:
                continue
            try:
                if c['sock'].send(c['rest'][:1]) == 1:
                    c['rest'] = c['rest'][1:]
                    self.trickled += 1
            except BlockingIOError:
                pass
            except OSError:
                self.drop(fd, 'slowloris')
        return done

    def run(self):
        stdin = sys.stdin.fileno()
        self.ep.register(stdin, select.EPOLLIN)
        done = 0
        step = 1.0 / max(1, len(self.trickling)) if self.trickling else 0.1
        while True:
            events = self.ep.poll(max(step, 0.002))
            for fd, ev in events:
                if fd == stdin:
                    line = os.read(stdin, 4096)
                    if not line:
                        return
                    for _ in line.decode().split():
                        emit('STAT', self.stats())
                elif fd in self.readers:
                    if ev & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                        self.drop(fd, 'non-reader')
                    elif ev & select.EPOLLOUT:
                        self.pump(fd)
                elif fd in self.slow:
                    try:
                        data = self.slow[fd]['sock'].recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b''
                    if not data:
                        self.drop(fd, 'slowloris')
            done = self.trickle_due(done)

    def close(self):
        for table in (self.slow, self.readers):
            for c in table.values():
                c['sock'].close()
            table.clear()
        self.ep.close()


def emit(tag, obj):
    sys.stdout.write('%s %s\n' % (tag, json.dumps(obj)))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--slowloris', type=int, default=1000)
    ap.add_argument('--first-bytes', type=int, default=12,
                    help='bytes of the call a slowloris sends at once [12: frame length and 8 more]')
    ap.add_argument('--non-readers', type=int, default=100)
    ap.add_argument('--size', type=int, default=65536, help='echo payload of a non-reader\'s calls')
    ap.add_argument('--rcvbuf', type=int, default=4096, help='a non-reader\'s SO_RCVBUF')
    ap.add_argument('--fresh', type=int, default=0, metavar='N',
                    help='instead: open N connections, ping each, print the result')
    ap.add_argument('--fresh-timeout', type=float, default=2.0)
    args = ap.parse_args()
    raise_nofile(args.slowloris + args.non_readers + args.fresh + 64)
    if args.fresh:
        emit('RESULT', fresh_pings(args.host, args.port, args.fresh, args.fresh_timeout))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    attack = Attack(args)
    try:
        attack.open()
        emit('READY', attack.stats())
        attack.run()
        emit('DONE', attack.stats())
    finally:
        attack.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""What the bench scripts share for the processes they start: free loopback ports and a
clean stop (SIGTERM, then SIGKILL after 5 s) so no run leaves a process behind."""
import socket
import subprocess


def free_port(udp_too=False):
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if not udp_too:
            return p
        try:  # gossip listens on UDP and TCP on the same port
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", p))
            u.close()
            return p
        except OSError:
            continue


def stop_processes(procs):
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()

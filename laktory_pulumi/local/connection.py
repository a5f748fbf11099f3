"""Bounded waits on a Spark Connect server: a run never hangs on a dead or wrong address.

pyspark's Spark Connect client retries an unavailable server with exponential back-off for at
least ten minutes (`DefaultPolicy`: 15 retries, up to 60 s apart, "so that the maximum
tolerated wait is guaranteed to be at least 10 minutes"), and retries a broken result stream for
up to an hour. That suits a cluster restarting under a notebook; for a run it means a closed
port, a port where another service listens, or a server killed mid-run all look like a hang.

So a run asks two things before it starts, each in seconds: that the address accepts TCP
connections, and that what answers completes gRPC's HTTP/2 handshake (a plain TCP service
never does). The driver then uses `bounded_retry_policy`: a lost server ends the run in
about `LOST_SERVER_SECONDS`, not in ten minutes.
"""

from __future__ import annotations

import socket
from typing import Any

PROBE_SECONDS = 5.0
"""How long the address's TCP connection and gRPC handshake may each take."""
LOST_SERVER_SECONDS = 12.0
"""About how long the driver keeps retrying a server that stopped answering."""


def remote_problem(url: str, timeout: float = PROBE_SECONDS) -> str:
    """Why the Spark Connect server at `url` cannot serve a run ('' when it answers)."""
    import grpc
    from pyspark.sql.connect.client import DefaultChannelBuilder

    try:
        builder = DefaultChannelBuilder(url)
    except Exception as error:  # pyspark's own URL checks
        return f"--remote {url}: not a Spark Connect URL ({_first_line(error)})"
    host, port = builder.host.strip("[]"), int(builder.endpoint.rsplit(":", 1)[1])
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"--remote {url}: nothing accepts connections at {host}:{port} ({reason})"
    channel = builder.toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        return (
            f"--remote {url}: {host}:{port} accepts connections but does not answer as a "
            f"Spark Connect (gRPC) server within {timeout:g} s; is it the server's port "
            "(15002 by default)?"
        )
    finally:
        channel.close()
    return ""


def bounded_retry_policy() -> Any:
    """pyspark's retry policy, ending after about `LOST_SERVER_SECONDS` of an absent server.

    Back-off 50 ms, x4, at most 2 s apart: 0.05 + 0.2 + 0.8 + 2 x 5 s, plus up to 0.5 s of
    jitter on each long wait.
    """
    from pyspark.sql.connect.client.retries import DefaultPolicy

    return DefaultPolicy(max_retries=8, max_backoff=2000, max_server_retry_delay=2000)


def bound_client_retries(client: Any) -> None:
    """Make `client` (a `SparkConnectClient`) give up on a lost server in seconds."""
    client.set_retry_policies([bounded_retry_policy()])
    # A broken result stream is re-attached for up to an hour otherwise (pyspark 4.3's
    # `max_retry_exception_elapsed_time`, a constructor argument not reachable from the
    # session builder).
    if hasattr(client, "_max_retry_exception_elapsed_time"):
        client._max_retry_exception_elapsed_time = LOST_SERVER_SECONDS


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]

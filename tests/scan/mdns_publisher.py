"""Announce one service on 127.0.0.1 with a short TTL until killed (a separate process for TTL tests).

python tests/scan/mdns_publisher.py SERVICE_TYPE INSTANCE TTL_SECONDS
"""

from __future__ import annotations

import sys
import time

from zeroconf import IPVersion, ServiceInfo, Zeroconf


def main() -> None:
    service_type, instance, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3])
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    info = ServiceInfo(
        service_type,
        f"{instance}.{service_type}",
        port=4242,
        parsed_addresses=["127.0.0.1"],
        server=f"{instance.lower()}.local.",
        host_ttl=ttl,
        other_ttl=ttl,
    )
    zc.register_service(info, ttl=ttl)
    print("ready", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main()

"""Letting tfds download and prepare a dataset, and failing fast when there is no network.

tfds' own downloader retries each URL with backoff: offline, a download attempt
gives up only after minutes. Before a download kgan therefore checks, with a
short deadline, that the hosts of the dataset's URLs (or the proxy that
requests would use for them) accept a TCP connection.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
import urllib.request

import tensorflow_datasets as tfds

__all__ = ["DownloadUnavailableError", "download_hosts", "proxied_address", "check_network", "download_and_prepare"]

PROBE_TIMEOUT_S = 8.0
# Used when a builder lists no URLs: where tfds itself fetches data and metadata.
FALLBACK_HOSTS = (("storage.googleapis.com", 443),)


class DownloadUnavailableError(ConnectionError):
    """tfds would have to download a dataset, and its hosts cannot be reached."""

    def __init__(self, dataset, data_dir, detail):
        super().__init__(
            f"Dataset {dataset!r} is not prepared in data dir {data_dir} and cannot be downloaded: {detail}. "
            f"Either connect this machine to the internet and rerun; or prepare it on a machine that is online "
            f"(`tfds build {dataset} --data_dir DIR`, or `tfds.load({dataset!r}, data_dir=DIR)`) and copy DIR/"
            f"{dataset.split('/')[0].split(':')[0]} into {data_dir}; or train on local files: "
            "`python -m zoo.import_data` for raw MNIST/Fashion-MNIST files, `--image_dir PATH` for a folder of images.")


def download_hosts(builder):
    """The (host, port) pairs a download of ``builder`` would connect to, proxies included.

    Args:
      builder: a `tfds.core.DatasetBuilder`.

    Returns:
      A sorted list of ``(host, port)``; empty when every URL is a local path.
    """
    try:
        urls = list(builder.url_infos or {})
    except Exception:  # pylint: disable=broad-except  (a builder without checksums)
        urls = []
    if not urls:
        return [proxied_address("https", host, port) for host, port in FALLBACK_HOSTS]
    hosts = set()
    for url in urls:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme in ("http", "https", "ftp") and parsed.hostname:
            port = parsed.port or {"http": 80, "https": 443, "ftp": 21}[parsed.scheme]
            hosts.add(proxied_address(parsed.scheme, parsed.hostname, port))
    return sorted(hosts)


def proxied_address(scheme, host, port):
    """The (host, port) a connection to ``scheme://host:port`` really goes to: the proxy from the environment, if any."""
    proxies = urllib.request.getproxies()
    if urllib.request.proxy_bypass(host) or scheme not in proxies:
        return host, port
    proxy = urllib.parse.urlsplit(proxies[scheme] if "://" in proxies[scheme] else f"http://{proxies[scheme]}")
    return proxy.hostname, proxy.port or (443 if proxy.scheme == "https" else 80)


def check_network(hosts, timeout=PROBE_TIMEOUT_S):
    """Raises OSError unless every ``(host, port)`` accepts a TCP connection within ``timeout`` seconds in all.

    DNS lookups can hang far beyond a socket timeout offline, so the probes run
    in daemon threads and the deadline is enforced on them.
    """
    results = {}

    def probe(address):
        try:
            with socket.create_connection(address, timeout=timeout):
                results[address] = None
        except Exception as error:  # pylint: disable=broad-except  (OSError, or anything a resolver raises)
            results[address] = error

    threads = [threading.Thread(target=probe, args=(address,), daemon=True) for address in hosts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for address in hosts:
        error = results.get(address, TimeoutError(f"no answer within {timeout:.0f} s"))
        if error is not None:
            host, port = address
            raise OSError(f"{host}:{port} is unreachable ({error.__class__.__name__}: {error})")


def download_and_prepare(builder, dataset, data_dir, timeout=PROBE_TIMEOUT_S):
    """Has tfds download and prepare ``builder`` (with its progress bars), after a fast network check.

    Args:
      builder: the unprepared `tfds.core.DatasetBuilder`.
      dataset: its name as the user gave it (for messages).
      data_dir: the tfds data dir it is prepared in.
      timeout: seconds the network check may take.

    Raises:
      DownloadUnavailableError: the hosts cannot be reached, or the download failed.
      ValueError: the dataset needs a manual download.
    """
    if getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None):
        raise ValueError(
            f"Dataset {dataset!r} cannot be downloaded automatically (its files need a manual download: see "
            f"https://www.tensorflow.org/datasets/catalog/{builder.name}); prepare it with tfds and copy it into "
            f"{data_dir}, or use --image_dir on a folder of its images.")
    try:
        check_network(download_hosts(builder), timeout)
    except OSError as error:
        raise DownloadUnavailableError(dataset, data_dir, str(error)) from None
    try:
        builder.download_and_prepare()
    except (OSError, tfds.download.DownloadError) as error:
        detail = " ".join(str(error).split())[:300]
        raise DownloadUnavailableError(dataset, data_dir, f"the download failed ({detail})") from None

#!/usr/bin/env python3
"""Push a tiny one-layer OCI image to a plain-HTTP registry, to try ``backout pin`` on.

    python3 examples/registry/push-demo-image.py 127.0.0.1:5000/shop/api:2.4 [REF …]

Each REF is ``HOST:PORT/REPOSITORY:TAG``. The image holds one file, ``/app/VERSION``, whose
text is the reference, so every tag gets its own digest. It is pushed as ``docker push`` does,
over the distribution API (blob uploads: POST, then PUT with the digest; then the manifest),
and one line ``REF DIGEST`` is printed per image. Plain HTTP only: meant for a registry on
loopback (see examples/shop/README.md). Needs only httpx, which backout installs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    """The ``sha256:`` content digest a registry names a blob or manifest by."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_blob(http: httpx.Client, repository: str, data: bytes) -> dict[str, object]:
    """Upload one blob (monolithic upload) and return its OCI descriptor minus the media type."""
    started = http.post(f"/v2/{repository}/blobs/uploads/")
    started.raise_for_status()
    # The Location URL carries the upload's state in its query: keep it, add the digest.
    location = httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest(data)})
    done = http.put(location, content=data, headers={"Content-Type": "application/octet-stream"})
    done.raise_for_status()
    return {"digest": digest(data), "size": len(data)}


def push(reference: str) -> str:
    """Push a one-layer image to ``reference`` and return the manifest digest the registry gave."""
    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    if not host or not repository or "/" in tag:
        raise SystemExit(f"push-demo-image: expected HOST:PORT/REPOSITORY:TAG, got {reference!r}")
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        text = f"{reference}\n".encode()
        info = tarfile.TarInfo("app/VERSION")
        info.size, info.mtime = len(text), 0  # mtime 0: the same reference, the same digest
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    diff_id = digest(tar_bytes.getvalue())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    with httpx.Client(base_url=f"http://{host}", timeout=30) as http:
        layer_desc = upload_blob(http, repository, layer)
        config_desc = upload_blob(http, repository, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer_desc}
                ],
            }
        ).encode()
        put = http.put(
            f"/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        put.raise_for_status()
        return str(put.headers.get("Docker-Content-Digest", digest(manifest)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for ref in sys.argv[1:]:
        try:
            print(ref, push(ref))
        except httpx.HTTPError as error:  # one line, not a traceback: the registry said no
            raise SystemExit(f"push-demo-image: {ref}: {error}") from None

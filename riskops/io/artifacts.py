"""Artifact store: a local folder by default, a GCS bucket (gs://bucket/prefix) in production.

Writes are atomic: locally a temp file in the same folder is renamed over the target; on GCS an object only
becomes visible when its upload completes. A reader never sees half an artifact.

A key that several writers update (the champion pointer) is changed by compare-and-swap: `read_versioned` gives
its content and a version token, `write_if` writes only if the token is still current (GCS: the object's
generation as a precondition; locally: the content's digest, compared under an exclusive lock on a side file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import tempfile
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riskops.core.errors import ArtifactError

Keys = list[str]  # (inside the stores, `list` names their own method)


# Files as open() makes them: 0666 less the process umask (read once; umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


class ArtifactStore(ABC):
    root: str

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> str:
        """Atomically write `data` at `key`; returns its URI."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys under `prefix`, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def age_s(self, key: str) -> float:
        """Seconds since `key` was last written."""

    def leftovers(self, prefix: str = "") -> Keys:
        """Temporary files a killed writer left under `prefix` (none on GCS: an upload is one atomic object)."""
        return []

    @abstractmethod
    def read_versioned(self, key: str) -> tuple[bytes | None, str]:
        """The content at `key` (None when absent) and a token that changes whenever it is written."""

    @abstractmethod
    def write_if(self, key: str, data: bytes, token: str) -> bool:
        """Write `data` at `key` only if its token is still `token` (nobody wrote since it was read); False
        otherwise, writing nothing."""

    def write_text(self, key: str, text: str) -> str:
        return self.write_bytes(key, text.encode("utf-8"))

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_file(self, key: str, path: Path) -> str:
        return self.write_bytes(key, path.read_bytes())


def _clean_key(key: str) -> str:
    key = key.strip("/")
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ArtifactError(f"artifact key {key!r} is not a plain relative path", "ArtifactStore", "use a/b/c.ext")
    return key


class LocalStore(ArtifactStore):
    def __init__(self, root: Path | str) -> None:
        self.root = str(root)
        self._root = Path(root)

    def _path(self, key: str) -> Path:
        return self._root / _clean_key(key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def write_bytes(self, key: str, data: bytes) -> str:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would hide a run's files from the user's group
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)

    def read_versioned(self, key: str) -> tuple[bytes | None, str]:
        path = self._path(key)
        data = path.read_bytes() if path.is_file() else None
        return data, _digest(data)

    def write_if(self, key: str, data: bytes, token: str) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f".{path.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # writers of this key queue here; readers never wait
            current = path.read_bytes() if path.is_file() else None
            if _digest(current) != token:
                return False
            self.write_bytes(key, data)
            return True

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as e:
            raise ArtifactError(f"artifact {key} not found", str(path), "check the run id or path") from e

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self._root / prefix.strip("/") if prefix.strip("/") else self._root
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self._root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def age_s(self, key: str) -> float:
        return time.time() - self._path(key).stat().st_mtime

    def leftovers(self, prefix: str = "") -> Keys:
        base = self._root / prefix.strip("/") if prefix.strip("/") else self._root
        return sorted(str(p.relative_to(self._root)) for p in base.rglob(".*.tmp") if p.is_file())


def _digest(data: bytes | None) -> str:
    return "absent" if data is None else hashlib.sha256(data).hexdigest()


class GCSStore(ArtifactStore):
    def __init__(self, root: str, client: Any = None, endpoint: str | None = None) -> None:
        if not root.startswith("gs://"):
            raise ArtifactError(f"{root} is not a gs:// URI", "GCSStore", "use gs://bucket/prefix")
        # Imported by name: whether mypy sees google.cloud's namespace package differs between installs.
        storage = importlib.import_module("google.cloud.storage")

        self.root = root.rstrip("/")
        bucket, _, prefix = root[len("gs://") :].partition("/")
        self.prefix = prefix.strip("/")
        if client is None:
            if endpoint:
                from google.auth.credentials import AnonymousCredentials

                client = storage.Client(
                    project="local",
                    credentials=AnonymousCredentials(),
                    client_options={"api_endpoint": endpoint},
                )
            else:
                client = storage.Client()
        self.client = client
        self.bucket = client.bucket(bucket)

    def _name(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket.name}/{self._name(key)}"

    def write_bytes(self, key: str, data: bytes) -> str:
        from google.api_core import exceptions as gexc

        try:
            self.bucket.blob(self._name(key)).upload_from_string(data)
        except gexc.GoogleAPICallError as e:
            raise ArtifactError(f"upload failed: {e}", self.uri(key), "check the bucket and permissions") from e
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        from google.api_core import exceptions as gexc

        try:
            return bytes(self.bucket.blob(self._name(key)).download_as_bytes())
        except gexc.NotFound as e:
            raise ArtifactError(f"artifact {key} not found", self.uri(key), "check the run id or path") from e

    def exists(self, key: str) -> bool:
        return bool(self.bucket.blob(self._name(key)).exists())

    def read_versioned(self, key: str) -> tuple[bytes | None, str]:
        blob = self.bucket.get_blob(self._name(key))
        if blob is None:
            return None, "0"  # generation 0: "the object must not exist" as a precondition
        generation = blob.generation or 0  # (the GCS emulator may leave it out)
        return bytes(blob.download_as_bytes(if_generation_match=generation or None)), str(generation)

    def write_if(self, key: str, data: bytes, token: str) -> bool:
        from google.api_core import exceptions as gexc

        try:
            self.bucket.blob(self._name(key)).upload_from_string(data, if_generation_match=int(token))
        except gexc.PreconditionFailed:
            return False
        except gexc.GoogleAPICallError as e:
            raise ArtifactError(f"upload failed: {e}", self.uri(key), "check the bucket and permissions") from e
        return True

    def list(self, prefix: str = "") -> list[str]:
        full = self._name(prefix) if prefix.strip("/") else self.prefix
        start = len(self.prefix) + 1 if self.prefix else 0
        names = (b.name for b in self.client.list_blobs(self.bucket, prefix=full + "/" if full else None))
        return sorted(n[start:] for n in names)

    def delete(self, key: str) -> None:
        from google.api_core import exceptions as gexc

        with contextlib.suppress(gexc.NotFound):
            self.bucket.blob(self._name(key)).delete()

    def age_s(self, key: str) -> float:
        blob = self.bucket.get_blob(self._name(key))
        if blob is None or blob.updated is None:
            raise ArtifactError(f"artifact {key} not found", self.uri(key), "check the path")
        return (datetime.now(UTC) - blob.updated).total_seconds()


def open_store(root: str, gcs_endpoint: str | None = None) -> ArtifactStore:
    """A store for `root`: a local folder, or gs://bucket/prefix."""
    if root.startswith("gs://"):
        return GCSStore(root, endpoint=gcs_endpoint)
    return LocalStore(root)

"""A loopback, in-memory Hugging Face Hub: just enough of the HTTP API for `push_to_hub` and `from_pretrained`.

Why: publishing is part of the workflow (`push_to_hub`, `Seq2SeqTrainer(push_to_hub=True)`, remote code), and the
only honest test of it is the real client code talking HTTP. The machine has no network, so the tests point
`HF_ENDPOINT` at this server instead (FIELD-NOTES section 4).

Implemented (huggingface_hub 2.4 client, model/dataset/space repos, branch `main` only):
  POST /api/repos/create                                   create_repo (409 when it exists: exist_ok works)
  POST /api/validate-yaml                                   README.md front matter check done before commits
  POST /api/{type}s/{id}/preupload/{rev}                    always answers uploadMode "regular": no LFS, no xet
  POST /api/{type}s/{id}/commit/{rev}                       ndjson commit of base64 files and deletions
  GET  /api/{type}s/{id}[/revision/{rev}]                   model_info / repo_info (sha, siblings)
  GET  /api/{type}s/{id}/tree/{rev}[/{path}]                list_repo_tree / list_repo_files
  HEAD|GET /[{type}s/]{id}/resolve/{rev}/{path}             hf_hub_download (ETag, X-Repo-Commit, Content-Length)
Anything else answers 501 and is recorded in `FakeHub.unhandled`, so a client change shows up as a clear failure.

Bounded: binds 127.0.0.1 on a free port, keeps repos in memory (nothing written from request data), and stops
when the `FakeHub` context exits. `FakeHub.activate()` points this process and its children at it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

_API = re.compile(r"^/api/(models|datasets|spaces)/([^/]+/[^/]+)(?:/(revision|preupload|commit|tree)/(.*))?$")
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(.*?)\n---\s*(\n|\Z)", re.DOTALL)


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the real hub reports as a regular file's `oid` and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class _Repo:
    """One repository: every commit's full snapshot (files are small) and the head of `main`."""

    head: str
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)


class _HubError(Exception):
    """An error answer in the hub's shape: the client maps `X-Error-Code` to its typed exceptions."""

    def __init__(self, status: int, code: str | None, message: str, commit: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.commit = status, code, message, commit


class FakeHub:
    """Loopback hub server. Use as a context manager; `url` is its endpoint, `files(repo_id)` the pushed content."""

    def __init__(self, cache_dir: str | Path):
        self.cache_dir = Path(cache_dir)
        self.repos: dict[tuple[str, str], _Repo] = {}
        self.unhandled: list[str] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-hub", daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ---- inspection helpers for tests ------------------------------------------------------------------------
    def files(self, repo_id: str, repo_type: str = "model") -> dict[str, bytes]:
        """The files on `main` of a repo (KeyError if it was never created)."""
        repo = self.repos[(repo_type, repo_id)]
        return dict(repo.commits[repo.head])

    @contextlib.contextmanager
    def activate(self) -> Iterator[FakeHub]:
        """Point huggingface_hub/transformers, in this process and in subprocesses, at this server.

        Environment variables reach subprocesses. In this process huggingface_hub read them at import time, so the
        module-level copies (endpoint, xet/telemetry/offline switches, cache dir) and the shared `HfApi` instances
        (huggingface_hub's and transformers') are patched too, and restored on exit. The cache lives in
        `cache_dir`, so nothing from a previous fake hub (same repo names, same commit ids) is ever reused.
        """
        from huggingface_hub import constants, hf_api
        from transformers.utils import hub as transformers_hub

        env = {
            "HF_ENDPOINT": self.url,
            "HF_TOKEN": "hf_fake_token_for_loopback_tests",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0",
            "HF_HOME": str(self.cache_dir / "home"),
            "HF_HUB_CACHE": str(self.cache_dir / "hub"),
            "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])),
        }
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.dict(os.environ, env))
            for name, value in {
                "ENDPOINT": self.url,
                "HUGGINGFACE_CO_URL_TEMPLATE": self.url + "/{repo_id}/resolve/{revision}/{filename}",
                "HF_HUB_DISABLE_XET": True,
                "HF_HUB_DISABLE_TELEMETRY": True,
                "HF_HUB_OFFLINE": False,
                "HF_HUB_CACHE": env["HF_HUB_CACHE"],
            }.items():
                stack.enter_context(mock.patch.object(constants, name, value))
            stack.enter_context(mock.patch.object(hf_api.api, "endpoint", self.url))
            stack.enter_context(mock.patch.object(transformers_hub, "_hf_api", None))
            yield self

    # ---- request handling (called from the server's threads) ------------------------------------------------
    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Route one request; returns (status, headers, body). Malformed requests get a 400, not a dropped socket."""
        self.requests.append(f"{method} {raw_path}")
        parts = urlsplit(raw_path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            with self._lock:
                return self._route(method, parts.path, query, body)
        except _HubError as error:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            if error.commit:
                headers["X-Repo-Commit"] = error.commit
            return _json(error.status, {"error": error.message}, headers)
        except (ValueError, KeyError, TypeError) as error:  # bad JSON / missing fields from a client change
            return _json(400, {"error": f"Malformed request: {error!r}"})

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path == "/api/repos/create":
            return self._create_repo(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body)["content"])
        if match := _API.match(path):
            repo_type, repo_id, action, rest = match.group(1)[:-1], match.group(2), match.group(3), match.group(4)
            revision, _, subpath = (rest or "main").partition("/")
            revision, subpath = unquote(revision), unquote(subpath)
            if method == "GET" and action in (None, "revision"):
                return self._info(repo_type, repo_id, revision)
            if method == "GET" and action == "tree":
                return self._tree(repo_type, repo_id, revision, subpath, query.get("recursive") in ("1", "true", "True"))
            if method == "POST" and action == "preupload":
                return self._preupload(repo_type, repo_id, revision, json.loads(body))
            if method == "POST" and action == "commit":
                if query.get("create_pr"):
                    raise _HubError(400, None, "The fake hub does not implement pull requests.")
                return self._commit(repo_type, repo_id, revision, body)
        if method in ("GET", "HEAD") and (match := _RESOLVE.match(path)):
            repo_type = (match.group(1) or "models")[:-1]
            return self._resolve(repo_type, match.group(2), unquote(match.group(3)), unquote(match.group(4)), method)
        self.unhandled.append(f"{method} {path}")
        return _json(501, {"error": f"The fake hub does not implement {method} {path}."})

    def _repo(self, repo_type: str, repo_id: str) -> _Repo:
        if (repo_type, repo_id) not in self.repos:
            raise _HubError(404, "RepoNotFound", f"Repository {repo_id} not found.")
        return self.repos[(repo_type, repo_id)]

    def _snapshot(self, repo_type: str, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]]:
        repo = self._repo(repo_type, repo_id)
        sha = repo.head if revision == "main" else revision
        if sha not in repo.commits:
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha, repo.commits[sha]

    def _create_repo(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.url}/{prefix}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            return _json(409, {"error": "You already created this repo", "url": url})
        initial = hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()
        self.repos[(repo_type, repo_id)] = _Repo(head=initial, commits={initial: {}})
        return _json(200, {"url": url, "name": repo_id})

    @staticmethod
    def _validate_yaml(content: str) -> tuple[int, dict[str, str], bytes]:
        match = _FRONT_MATTER.match(content)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as error:
            return _json(400, {"errors": [{"message": f"Invalid YAML: {error}"}]})
        if metadata is not None and not isinstance(metadata, dict):
            return _json(400, {"errors": [{"message": "The metadata block must be a mapping."}]})
        return _json(200, {"errors": [], "warnings": []})

    def _info(self, repo_type: str, repo_id: str, revision: str) -> tuple[int, dict[str, str], bytes]:
        sha, files = self._snapshot(repo_type, repo_id, revision)
        siblings = [{"rfilename": path, "size": len(data), "blobId": git_blob_oid(data)} for path, data in files.items()]
        return _json(200, {"id": repo_id, "sha": sha, "private": False, "siblings": sorted(siblings, key=str)})

    def _tree(
        self, repo_type: str, repo_id: str, revision: str, folder: str, recursive: bool
    ) -> tuple[int, dict[str, str], bytes]:
        sha, files = self._snapshot(repo_type, repo_id, revision)
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for path, data in files.items():
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts)):  # the folders on the way to the file
                if depth == 1 or recursive:
                    folder_path = prefix + "/".join(parts[:depth])
                    entries[folder_path] = {"type": "directory", "oid": "0" * 40, "size": 0, "path": folder_path}
            if len(parts) == 1 or recursive:
                entries[path] = {"type": "file", "oid": git_blob_oid(data), "size": len(data), "path": path}
        if prefix and not entries:
            raise _HubError(404, "EntryNotFound", f"{folder} does not exist on {revision}", commit=sha)
        return _json(200, [entries[key] for key in sorted(entries)])

    def _preupload(
        self, repo_type: str, repo_id: str, revision: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        _, files = self._snapshot(repo_type, repo_id, revision)
        answers = [
            {
                "path": item["path"],
                "uploadMode": "regular",  # the client then sends the bytes inline in the commit: no LFS/xet server
                "shouldIgnore": False,
                "oid": git_blob_oid(files[item["path"]]) if item["path"] in files else None,
            }
            for item in payload["files"]
        ]
        return _json(200, {"files": answers})

    def _commit(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if revision != "main":
            raise _HubError(400, None, "The fake hub only commits to main.")
        repo = self._repo(repo_type, repo_id)
        files = dict(repo.commits[repo.head])
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                parent = value.get("parentCommit")
                if parent is not None and parent != repo.head:
                    raise _HubError(412, None, "parentCommit is not the head of main.")
            elif key == "file" and value.get("encoding") == "base64":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise _HubError(404, "EntryNotFound", "A file with this name doesn't exist")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {path: data for path, data in files.items() if not path.startswith(folder)}
            else:
                raise _HubError(400, None, f"The fake hub accepts only regular files, not {key!r}.")
        sha = hashlib.sha1(repo.head.encode() + body).hexdigest()
        repo.commits[sha], repo.head = files, sha
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return _json(200, {"commitUrl": f"{self.url}/{prefix}{repo_id}/commit/{sha}", "commitOid": sha})

    def _resolve(
        self, repo_type: str, repo_id: str, revision: str, path: str, method: str
    ) -> tuple[int, dict[str, str], bytes]:
        sha, files = self._snapshot(repo_type, repo_id, revision)
        if path not in files:
            raise _HubError(404, "EntryNotFound", f"{path} does not exist on {revision}", commit=sha)
        data = files[path]
        headers = {
            "ETag": f'"{git_blob_oid(data)}"',
            "X-Repo-Commit": sha,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(data)),
        }
        return 200, headers, b"" if method == "HEAD" else data


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body))}, body


def _handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `hub` (http.server instantiates one per request)."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = hub.handle(self.command, self.path, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            """Silence the per-request stderr line (`FakeHub.requests` keeps the log)."""

    return Handler


__all__ = ["FakeHub", "git_blob_oid"]

"""A real Kubernetes control plane for the chart's tests: etcd, kube-apiserver, kube-controller-manager.

Built from Go modules through the pinned table (tools/versions.yaml: etcd, kubernetes; `make
setup`). No kubelet and no scheduler: pods are created by the controllers and stay Pending, which
is enough to prove what the chart asks of the API server. Everything listens on 127.0.0.1 on free
ports, in one state directory, and `stop()` ends exactly the processes `start()` began.

    with ControlPlane(tmp_dir) as cp:
        cp.api.get("/api/v1/namespaces/default")
        cp.kubeconfig            # a kubeconfig file for helm (cluster-admin, client certificate)

The API server runs as a real cluster's does (kubeadm's flags): client-certificate
authentication, RBAC (and Node) authorization, the default admission plugins plus
NodeRestriction, a service-account issuer with an ECDSA signing key; an audit log (metadata level,
the controller-manager's own requests left out) lets tests see which requests reached it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from obsctl.tools import tool_path

SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "payments-tests-admin"
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: [system:kube-controller-manager, system:apiserver]
  - level: None
    userGroups: [system:serviceaccounts:kube-system, system:nodes]
  - level: Metadata
"""


class ControlPlaneError(RuntimeError):
    """A component did not start, or an API call failed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)}: {proc.stderr.strip()}")


def make_pki(directory: Path) -> None:
    """A CA, the API server's serving certificate, two client certificates, the service-account key."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=payments-tests-ca", cwd=directory)  # fmt: skip
    leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    sans = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:10.96.0.1"
    certs = {
        "apiserver": ("/CN=kube-apiserver", f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n"),
        "admin": (f"/O=system:masters/CN={ADMIN_USER}", "extendedKeyUsage=clientAuth\n"),
        "controller-manager": ("/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth\n"),
    }
    for serial, (name, (subject, extensions)) in enumerate(certs.items(), start=2):
        (directory / f"{name}.ext").write_text(leaf + extensions)
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
                 cwd=directory)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
                 str(serial), "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.crt", cwd=directory)  # fmt: skip
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key", cwd=directory)
    _openssl("ec", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


def write_kubeconfig(path: Path, server: str, pki: Path, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "tests", "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(pki / f"{user}.crt"),
                    "client-key": str(pki / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "tests", "context": {"cluster": "tests", "user": user}}],
        "current-context": "tests",
    }
    path.write_text(json.dumps(config, indent=2))
    return path


class Api:
    """A small REST client for the API server (cluster-admin by client certificate)."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.session = requests.Session()
        # Our CA only: with trust_env, REQUESTS_CA_BUNDLE would replace `verify` (and proxies apply).
        self.session.trust_env = False
        self.session.verify = str(pki / "ca.crt")
        self.session.cert = (str(pki / "admin.crt"), str(pki / "admin.key"))
        self._resources: dict[str, dict[str, dict[str, Any]]] = {}

    def request(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        response = self.session.request(
            method, self.server + path, json=body, timeout=30, headers=headers or None
        )
        if response.status_code not in ok:
            raise ControlPlaneError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def find(self, path: str) -> Any | None:
        """The object at `path`, or None when the API server answers 404."""
        response = self.session.get(self.server + path, timeout=30)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ControlPlaneError(f"GET {path}: {response.status_code} {response.text[:2000]}")
        return response.json()

    def items(self, path: str, selector: str | None = None) -> list[dict[str, Any]]:
        query = f"?labelSelector={selector}" if selector else ""
        items: list[dict[str, Any]] = self.get(path + query).get("items") or []
        return items

    def post(self, path: str, body: Any, ok: tuple[int, ...] = (200, 201)) -> Any:
        return self.request("POST", path, body, ok=ok)

    def delete(self, path: str) -> None:
        self.request("DELETE", path, ok=(200, 202, 404))

    def resources(self, api_version: str) -> dict[str, dict[str, Any]]:
        """Discovery: {kind: APIResource} of one group version (subresources left out)."""
        if api_version not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.find(base) or {"resources": []}
            self._resources[api_version] = {
                r["kind"]: r for r in listing["resources"] if "/" not in r["name"]
            }
        return self._resources[api_version]

    def path_of(self, obj: dict[str, Any], namespace: str = "") -> str:
        """The REST path of a manifest object (its namespace, or `namespace` for a namespaced kind)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        resource = self.resources(api_version).get(kind)
        if resource is None:
            self._resources.pop(api_version, None)  # a CRD may have been added since
            resource = self.resources(api_version).get(kind)
        if resource is None:
            raise ControlPlaneError(f"the API server serves no {kind} in {api_version}")
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = obj["metadata"].get("namespace") or namespace
        scope = f"/namespaces/{ns}" if resource["namespaced"] else ""
        return f"{base}{scope}/{resource['name']}/{obj['metadata']['name']}"

    def dry_run_apply(self, obj: dict[str, Any], namespace: str) -> tuple[int, str, str]:
        """Server-side apply of `obj`, dry run, strict field validation: (status, Warning header, body)."""
        query = "?dryRun=All&fieldValidation=Strict&fieldManager=tests-strict-check&force=true"
        response = self.session.patch(
            self.server + self.path_of(obj, namespace) + query,
            data=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
            timeout=30,
        )
        return response.status_code, response.headers.get("Warning", ""), response.text

    def can(
        self, user: str, groups: list[str], verb: str, resource: str, group: str = "", namespace: str = ""
    ) -> bool:
        """A SubjectAccessReview: what `kubectl auth can-i --as=user` asks the authorizer."""
        resource, _, subresource = resource.partition("/")
        attributes = {"verb": verb, "resource": resource, "group": group}
        if subresource:
            attributes["subresource"] = subresource
        if namespace:
            attributes["namespace"] = namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
        }
        answer = self.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        return bool(answer["status"].get("allowed"))


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; ControlPlaneError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (requests.RequestException, ControlPlaneError) as exc:
            last, result = exc, None
        if result:
            return result
        time.sleep(interval)
    raise ControlPlaneError(
        f"timed out after {timeout:.0f} s waiting for {what}" + (f": {last}" if last else "")
    )


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class ControlPlane:
    state: Path
    components: list[Component] = field(default_factory=list)
    started_in: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pki = self.state / "pki"
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.api_port = free_port()
        self.kcm_port = free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self.kubeconfig = self.state / "admin.kubeconfig"
        self.audit_log = self.state / "audit.log"
        self.api = Api(self.server, self.pki)

    # --- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> Component:
        log = self.state / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        component = Component(name, process, log)
        self.components.append(component)
        return component

    def _alive(self, component: Component) -> None:
        if component.process.poll() is not None:
            tail = "\n".join(component.log.read_text(errors="replace").splitlines()[-30:])
            raise ControlPlaneError(f"{component.name} exited {component.process.returncode}:\n{tail}")

    def _ready(self, component: Component, what: str, check: Callable[[], Any], timeout: float) -> None:
        def probe() -> Any:
            self._alive(component)
            return check()

        started = time.monotonic()
        wait_for(f"{component.name}: {what}", probe, timeout)
        self.started_in[component.name] = round(time.monotonic() - started, 2)

    def start(self) -> ControlPlane:
        self.state.mkdir(parents=True, exist_ok=True)
        make_pki(self.pki)
        write_kubeconfig(self.kubeconfig, self.server, self.pki, "admin")
        kcm_kubeconfig = write_kubeconfig(
            self.state / "controller-manager.kubeconfig", self.server, self.pki, "controller-manager"
        )
        (self.state / "audit-policy.yaml").write_text(AUDIT_POLICY)
        etcd_url = f"http://127.0.0.1:{self.etcd_port}"
        peer_url = f"http://127.0.0.1:{self.etcd_peer_port}"
        etcd = self._spawn("etcd", [
            str(tool_path("etcd")), "--name=tests", f"--data-dir={self.state / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=tests={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
        ])  # fmt: skip
        self._ready(
            etcd, f"{etcd_url}/health", lambda: self.api.session.get(f"{etcd_url}/health", timeout=2).ok, 30
        )
        pki = self.pki
        apiserver = self._spawn("kube-apiserver", [
            str(tool_path("kube-apiserver")),
            f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true", f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",  # it refuses a loopback advertise address
            f"--service-account-issuer={ISSUER}", f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--audit-policy-file={self.state / 'audit-policy.yaml'}", f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json", "--profiling=false", "--v=0",
        ])  # fmt: skip
        self._ready(
            apiserver, "/readyz", lambda: self.api.session.get(self.server + "/readyz", timeout=5).ok, 120
        )
        kcm = self._spawn("kube-controller-manager", [
            str(tool_path("kube-controller-manager")),
            f"--kubeconfig={kcm_kubeconfig}", "--bind-address=127.0.0.1", f"--secure-port={self.kcm_port}",
            f"--authentication-kubeconfig={kcm_kubeconfig}", f"--authorization-kubeconfig={kcm_kubeconfig}",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--leader-elect=false", "--profiling=false",
            "--use-service-account-credentials=true",  # each controller as its own ServiceAccount (kubeadm)
            "--v=0",
        ])  # fmt: skip
        # The service-account controller makes `default` in every namespace: the controllers run.
        self._ready(
            kcm,
            "the default ServiceAccount",
            lambda: self.api.find("/api/v1/namespaces/default/serviceaccounts/default"),
            120,
        )
        return self

    def check_running(self) -> None:
        for component in self.components:
            self._alive(component)

    def stop(self) -> None:
        for component in reversed(self.components):
            if component.process.poll() is None:
                component.process.terminate()
        for component in reversed(self.components):
            try:
                component.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                component.process.kill()
                component.process.wait(timeout=15)
        self.components.clear()

    def __enter__(self) -> ControlPlane:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what reached the API server --------------------------------------------------------------

    def audit_mark(self) -> int:
        """A position in the audit log: writes() after it are the requests made since."""
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def audit_barrier(self) -> None:
        """Wait until the audit log holds everything asked before now (a marked request is there)."""
        offset = self.audit_mark()
        token = f"audit-barrier-{uuid.uuid4().hex[:12]}"
        self.api.find(f"/api/v1/namespaces/default/configmaps/{token}")

        def written() -> bool:
            with open(self.audit_log) as handle:
                handle.seek(offset)
                return token in handle.read()

        wait_for("the audit log to hold the barrier request", written, 10, interval=0.05)

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        """Every audited request of the test's admin user (helm, the tests) after `mark`."""
        found = []
        with open(self.audit_log) as handle:
            handle.seek(mark)
            for line in handle:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("user", {}).get("username") == ADMIN_USER and "audit-barrier-" not in event.get(
                    "requestURI", ""
                ):
                    found.append(event)
        return found

    def writes_since(self, mark: int, namespace: str | None = None) -> list[dict[str, Any]]:
        """Mutating requests (create, update, patch, delete) of the admin user after `mark`."""
        writes = ("create", "update", "patch", "delete", "deletecollection")
        return [
            e
            for e in self.requests_since(mark)
            if e.get("verb") in writes
            and (namespace is None or (e.get("objectRef") or {}).get("namespace") == namespace)
        ]

"""How long an idle keep-alive connection lives at each end of a call between services.

A request written on a connection just as the server closes it for being idle is lost with the
connection: the client sees a reset or no answer, and for a call that is not retried (creating a
payment) that is an error for the caller although the callee never saw the request. So the two
ends are ordered: a client gives up a pooled connection that has been idle for CLIENT_IDLE_S
(apps/common/http.py) and opens a new one, and the server keeps an idle connection for
SERVER_IDLE_S (gunicorn's `keepalive`, apps/common/gunicorn_conf.py), well beyond it. The server
then never closes a connection a client may still write on.

SERVER_IDLE_S is also above the 60 s for which the usual reverse proxies and load balancers keep
an idle connection to their backends (nginx's ingress upstream keep-alive, AWS ALB's default idle
timeout), so the gateway behind one of them is not raced the same way. An idle connection costs the
server a socket in its event loop, not a thread (apps/common/gunicorn_worker.py).
"""

from __future__ import annotations

CLIENT_IDLE_S = 10.0
SERVER_IDLE_S = 65

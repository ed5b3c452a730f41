"""apps/common/gunicorn_conf.py: what a worker does once it has imported its app."""

from __future__ import annotations

import gc

from apps.common import gunicorn_conf


def test_a_worker_freezes_what_it_imported_so_full_collections_leave_it_out() -> None:
    # In this process (pytest with the apps imported) as in a worker: tens of thousands of objects.
    tracked = len(gc.get_objects())
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() >= tracked // 2
        assert len(gc.get_objects()) < tracked // 10  # what a full collection walks from now on
    finally:
        gc.unfreeze()

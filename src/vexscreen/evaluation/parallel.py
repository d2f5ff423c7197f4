"""Independent, individually seeded tasks on threads, results in task order (same numbers at any ``n_jobs``)."""
from __future__ import annotations

from joblib import Parallel

from ..progress import Progress, ProgressArg


def run_tasks(tasks, n_jobs, total, desc, progress: ProgressArg):
    """Run ``tasks`` (``joblib.delayed`` calls); a progress step after each, results in task order."""
    # threads: libsvm, liblinear and numpy release the GIL, and nothing is copied to workers
    out = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(tasks)
    results = []
    with Progress(progress, total, desc) as bar:
        for r in out:
            results.append(r)
            bar.update()
    return results

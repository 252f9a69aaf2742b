"""The worker side of the sandbox: stdlib-only modules run as ``python -I -S -B worker/main.py``
(with this directory on ``sys.path``, so they import each other by plain name). The parent
imports only ``codec`` and ``watch`` from here, which import nothing of their siblings."""

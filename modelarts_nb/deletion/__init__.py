"""The deletion core: what may be deleted, the plan a person reviewed, and sending exactly that.

Steps and the waiter (``steps``, ``waiter``), the engine that re-checks and sends one DELETE per
confirmed pool (``engine``) on top of a run's life (``runner``: thread, Stop, endings), its pools
(``target``) and the one-DELETE claims (``claims``), looking a pool up (``lookup``), what
deleting breaks (``impact``), selecting pools (``selection``), the reviewed plan and its rule
(``plan``, ``policy``, ``rules``, ``review``, ``idle``), receipts (``receipts``, written by
``receipts_file``, read back by ``receipts_history``), the single-pool flow the faces drive
(``flow``) and the script API (``client.PoolsClient``).

Internal: import from :mod:`modelarts_nb`. It builds on :mod:`modelarts_nb.gateway` only and
imports no widget, magic or command module (``tests/test_layers.py`` checks).
"""

"""The notebook face: the two magics, the two panels and everything they draw.

The magics: ``magic`` declares ``%pool_delete`` and ``%pools`` and reads their lines;
``magic_delete`` and ``magic_pools`` do what each asks; tab completion is ``completion`` (the
cache, IPython's APIs) and ``completion_words`` (what a line asks for); ``interrupts`` makes
Ctrl-C stop our work. The panels: ``panel`` (one pool) and the ``%pools`` panel, whose widget
is ``pools_panel``, built on ``pools_list`` (rows, search, selection) and ``pools_batch``
(confirmation, check, deletion), drawing ``pools_rows`` (its rows' HTML) and ``pools_words``
(its sentences). Both panels draw with ``theme`` (colours, stylesheets, the phase badge, fixed
texts), show a static copy through ``display``, and share the HTML of ``render``; ``tables``
holds the pandas tables, ``history_view`` the receipts at a glance. Views draw state; deciding
and sending live in :mod:`modelarts_nb.deletion`.

Internal: ``%load_ext modelarts_nb`` is the way in; pandas and ipywidgets are imported only when
a magic or panel runs.
"""

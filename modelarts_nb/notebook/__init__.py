"""The notebook face: the two magics, the two panels and everything they draw.

``%pool_delete`` (``magic``) and ``%pools`` (``magic_pools``); the pool panel (``panel``) and
the ``%pools`` panel (``pools_panel``); one theme and the HTML both draw with (``display``,
``render``); the pandas tables (``tables``); the history view (``history_view``); tab completion
(``completion``) and kernel interrupts (``interrupts``). Views draw state; deciding and sending
live in :mod:`modelarts_nb.deletion`.

Internal: ``%load_ext modelarts_nb`` is the way in; pandas and ipywidgets are imported only when
a magic or panel runs.
"""

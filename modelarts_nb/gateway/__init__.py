"""The HTTP edge: everything that talks to the ModelArts API and nothing that decides to delete.

Signing (``signer``, ``auth``), credentials and settings (``keys``, ``settings``), pool names
(``names``), the verbs (``api``) over the send loop every request goes through (``sender``),
reading answers (``body``: within a size cap; ``responses``, with ``text``'s sanitiser), retry
and throttle (``retry``), errors (``errors``), the typed pool (``models``, read leniently by
``fields``), fan-out of reads (``fanout``) and the stop events every wait obeys (``stops``).

Internal: import from :mod:`modelarts_nb`, whose ``__all__`` is the public surface. Nothing here
imports :mod:`modelarts_nb.deletion`, :mod:`modelarts_nb.notebook` or :mod:`modelarts_nb.cli`
(``tests/test_layers.py`` checks).
"""

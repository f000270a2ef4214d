"""ddrid as a napari plugin (npe2 manifest: napari.yaml beside this file).

A view of its own over the engine, like the desktop app beside it: :mod:`.session`
drives ddrcore without Qt or napari, :mod:`.widget` is the dock, :mod:`.sample`
the sample fields.  Nothing is imported here, so that napari's plugin discovery
stays fast and torch loads only when a model is trained, scored or opened.
"""

"""The widgets that show the document (gallery, detail, source image, threshold, training panel,
toolbars, start screen, problems) and :mod:`.bindings`, which keeps them in step with it."""

"""XCALLY Motion: ``wire.py`` (the bodies it accepts, the errors it answers), ``backend.py`` (state and rules),
``imports.py`` (the CSV upload and its background import), ``query.py`` and ``routes.py`` (HTTP)."""

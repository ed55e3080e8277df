"""uContact, one port with two APIs: Integra (``wire.py``, ``backend.py`` ``IntegraBackend``, ``routes.py`` ``IntegraAPI``)
and Automation (the same files, ``AutomationBackend`` and ``AutomationAPI``)."""

"""Voipex IPBX: ``wire.py`` (the bodies it accepts, the errors it answers), ``backend.py`` (state and rules),
``routes.py`` (HTTP)."""

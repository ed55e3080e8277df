"""UJET / CCAI Platform: ``wire.py`` (the bodies it accepts and answers), ``backend.py`` (state and rules),
``routes.py`` (HTTP)."""

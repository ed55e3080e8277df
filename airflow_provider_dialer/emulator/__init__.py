"""The bundled vendor emulator: each vendor's API served over real HTTP on loopback, for tests, benchmarks and demos.

One package per vendor (``ucontact``, ``xcally``, ``voipex``, ``ujet``): ``wire.py`` (the bodies it accepts),
``backend.py`` (state and rules, plain Python) and ``routes.py`` (the HTTP layer). ``app.py`` assembles the
servers, ``faults.py`` injects faults, ``pytest_plugin.py`` holds the fixtures. Its server packages come with
the ``emulator`` extra; importing this package alone needs none of them.
"""

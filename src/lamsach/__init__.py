"""lamsach: run a malware-cleanup campaign across public units.

Indicators from the national CERT, log scanning, an endpoint agent and a reporting portal.
"""

__version__ = "0.1.0"

"""HTTP stand-ins for the national systems: SMS provider, NVR and NPÖ."""

from vaccinera_devstack.standins.app import KINDS, create_app
from vaccinera_devstack.standins.client import StandIn
from vaccinera_devstack.standins.recorder import Behaviour, RequestRecord
from vaccinera_devstack.standins.server import StandInServer

__all__ = ["KINDS", "Behaviour", "RequestRecord", "StandIn", "StandInServer", "create_app"]

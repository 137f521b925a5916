"""Vaccinera registry-export service: Reports to NVR and NPÖ, control report and statistics (RX-1..RX-5)."""

"""The service kit: what every Vaccinera service is built from, so all seven have one shape."""

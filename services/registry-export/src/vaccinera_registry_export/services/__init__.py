"""The registry export's use cases: sending reports (``sending``), NVR runs (``runs``), and the
reads of the control report and the operator's view (``reads``)."""

"""Pushing leadsync's decisions into a HubSpot portal, and a stand-in of HubSpot for tests and
the demo (``fake``) with the project's own description of the endpoints used (``openapi.yaml``).
"""

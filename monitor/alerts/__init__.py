"""Alerts: rules on port calls (``rules``), an outbox in the store that sends each alert once
(``outbox``), the sinks that receive them (``sinks``) and the secrets they need (``secrets``);
``dispatch`` runs one round of it all for the service."""

"""Helpers shared by the services: settings, logging and process lifecycle."""

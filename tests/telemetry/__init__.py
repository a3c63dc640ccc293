"""Tests of edgekit.telemetry."""

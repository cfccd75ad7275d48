"""Inbound adapters: HTTP routes (and later Slack, MCP and pages). Only this layer and main.py import FastAPI."""

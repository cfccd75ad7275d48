"""The LLM layer: prompt templates (`prompts.py`) and, later, the OpenAI-compatible client."""

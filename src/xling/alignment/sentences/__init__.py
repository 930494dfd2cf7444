"""Sentence alignment from parallel data: translation ranking (LaBSE) and knowledge distillation."""

"""Prometheus metrics for taskshed workers, fed by the event hooks."""

from taskshed_prometheus.metrics import TaskshedMetrics, default_metrics, serve_metrics

__all__ = ["TaskshedMetrics", "default_metrics", "serve_metrics"]
